/**
 * Installs what a benchmark needs and the machine lacks (memcached, redis-server, beanstalkd, a C
 * compiler) with apt-get, non-interactively, running `apt-get update` once if the first install
 * fails. Throws when the command is still missing afterwards; never installs what is on PATH.
 * apt-get's output goes to stderr, with the benches' progress: stdout is their report.
 */

/** apt-get's stdout and stderr: this process's stderr (fd 2). */
const TO_STDERR = { stdout: 2, stderr: 2 } as const;

/** Installs `aptPackage` with apt-get if `command` is not on PATH; throws if it is still missing after that. */
export function ensureCommand(command: string, aptPackage: string): void {
  if (Bun.which(command) !== null) return;
  const install = () => Bun.spawnSync(["apt-get", "install", "-y", aptPackage], { ...TO_STDERR, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  console.error(`${command} is not on PATH; installing ${aptPackage} with apt-get`);
  if (install().exitCode !== 0) {
    console.error("apt-get install failed; running apt-get update and trying again");
    Bun.spawnSync(["apt-get", "update"], TO_STDERR);
    if (install().exitCode !== 0) throw new Error(`could not install ${aptPackage} with apt-get`);
  }
  if (Bun.which(command) === null) throw new Error(`${aptPackage} was installed but ${command} is still not on PATH`);
}
