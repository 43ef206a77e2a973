/**
 * The server's version as libmemcached reads it: `VERSION X.Y.Z` with a major version of at least
 * 1 (libmemcached parses `VERSION %u.%u.%u` and refuses a major version 0, so memcstat, memcping
 * and php-memcached's getStats fail on it). Runs Debian's libmemcached-tools, installed if missing;
 * the libmemcached tests are skipped, with a message saying why, only if apt-get can't install it.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { ensureDebianPackages } from "../helpers/debian.ts";
import { runKestrel, serverForFile } from "../helpers/server.ts";

/** memcstat, or why it can't be had. */
const toolsMissing = ((): string | null => {
  try {
    ensureDebianPackages(["libmemcached-tools"], () => spawnSync("memcstat", ["--version"]).status === 0);
    return null;
  } catch (error) {
    return String(error);
  }
})();
if (toolsMissing !== null) console.warn(`skipping the libmemcached-tools tests: ${toolsMissing}`);

const MEMCACHED_VERSION = /^(\d+)\.(\d+)\.(\d+)$/;
const server = serverForFile();

test("version, stats and kestrel --version give one memcached-style version with a major of at least 1", async () => {
  const c = await server().client();
  const reply = await c.call("version");
  const version = reply.slice("VERSION ".length);
  expect(reply).toStartWith("VERSION ");
  expect(Number(MEMCACHED_VERSION.exec(version)?.[1])).toBeGreaterThanOrEqual(1);
  expect((await c.stats()).get("version")).toBe(version);
  expect((await runKestrel(["--version"])).stdout).toBe(`${version}\n`);
  c.close();
});

test.skipIf(toolsMissing !== null)("memcstat prints the server's stats, version included", async () => {
  const c = await server().client();
  const version = (await c.call("version")).slice("VERSION ".length);
  c.close();
  const result = spawnSync("memcstat", [`--servers=127.0.0.1:${server().port}`], { encoding: "utf8", timeout: 30_000 });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(new RegExp(`\\bversion: ${version.replaceAll(".", "\\.")}\\b`));
  expect(result.stdout).toMatch(/\bcurr_connections: \d+/);
});

test.skipIf(toolsMissing !== null)("memcping reaches the server", () => {
  const result = spawnSync("memcping", [`--servers=127.0.0.1:${server().port}`], { encoding: "utf8", timeout: 30_000 });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
});
