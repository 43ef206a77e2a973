/**
 * The memcache clients the compatibility suite runs (test/clients/run.ts), each as one scenario
 * script in the client's own language. A scenario takes `<host> <port>` and prints one line per
 * result on stdout (the format is in run.ts). npm clients are devDependencies; the others are
 * Debian packages, installed with apt-get when missing. Go (gomemcache) and Java (spymemcached)
 * are not here: their module registries can't be reached from this project's machines.
 */
import { join } from "node:path";

const HERE = import.meta.dir;

/** Debian's own interpreter: Debian's python3-* modules are installed for it, not for a pyenv one. */
const PYTHON = "/usr/bin/python3";

export interface Client {
  /** The name in the report (the package a user installs). */
  readonly name: string;
  readonly language: string;
  /** The scenario, run as `[...command, host, port]`. */
  readonly command: readonly string[];
}

function script(file: string): string {
  return join(HERE, file);
}

export const CLIENTS: readonly Client[] = [
  { name: "memcached (npm)", language: "Node", command: ["node", script("memcached.mjs")] },
  { name: "memcache-client", language: "Node", command: ["node", script("memcache_client.mjs")] },
  { name: "memcache-plus", language: "Node", command: ["node", script("memcache_plus.mjs")] },
  { name: "mc", language: "Node", command: ["node", script("mc.mjs")] },
  { name: "memjs", language: "Node", command: ["node", script("memjs.mjs")] },
  { name: "pymemcache", language: "Python", command: [PYTHON, script("pymemcache_client.py")] },
  { name: "python-memcached", language: "Python", command: [PYTHON, script("python_memcached.py")] },
  { name: "pylibmc", language: "Python", command: [PYTHON, script("pylibmc_client.py")] },
  { name: "php-memcached", language: "PHP", command: ["php", script("php_memcached.php")] },
  { name: "php-memcache", language: "PHP", command: ["php", script("php_memcache.php")] },
  { name: "Cache::Memcached", language: "Perl", command: ["perl", script("perl_memcached.pl"), "Cache::Memcached"] },
  { name: "Cache::Memcached::Fast", language: "Perl", command: ["perl", script("perl_memcached.pl"), "Cache::Memcached::Fast"] },
  { name: "Dalli", language: "Ruby", command: ["ruby", script("dalli.rb")] },
  { name: "libmemcached-tools", language: "C", command: ["bash", script("libmemcached_tools.sh")] },
];

/** The Debian packages the scenarios need, and a command that succeeds once they are all there. */
export const DEBIAN_PACKAGES = [
  "python3-pymemcache",
  "python3-memcache",
  "python3-pylibmc",
  "libmemcached-tools",
  "php-cli",
  "php-memcached",
  "php-memcache",
  "libcache-memcached-perl",
  "libcache-memcached-fast-perl",
  "ruby",
  "ruby-dalli",
];

export const DEBIAN_CHECKS: readonly (readonly string[])[] = [
  [PYTHON, "-c", "import pymemcache, memcache, pylibmc"],
  ["php", "-r", 'exit(class_exists("Memcached") && class_exists("Memcache") ? 0 : 1);'],
  ["perl", "-MCache::Memcached", "-MCache::Memcached::Fast", "-e", "1"],
  ["ruby", "-rdalli", "-e", "1"],
  ["memcstat", "--version"],
];
