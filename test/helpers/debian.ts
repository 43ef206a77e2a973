/**
 * Installs Debian packages a test or benchmark needs when they are missing (CI runs as root on a
 * clean machine; nothing is assumed to be present).
 */
import { spawnSync } from "node:child_process";

function run(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
}

/** Runs `check` and, if it fails, apt-get installs `packages` and checks again. */
export function ensureDebianPackages(packages: string[], check: () => boolean): void {
  if (check()) return;
  if (!run("apt-get", ["install", "-y", "-q", ...packages])) {
    run("apt-get", ["update", "-q"]);
    run("apt-get", ["install", "-y", "-q", ...packages]);
  }
  if (!check()) throw new Error(`could not install ${packages.join(" ")} with apt-get`);
}
