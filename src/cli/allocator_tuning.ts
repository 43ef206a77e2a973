/**
 * Bun's native allocator (mimalloc) gives memory freed by the server back to the system
 * (`madvise`) once it has stayed free for its purge delay, 100 ms in Bun, and reads that delay
 * from the environment only as the process starts. Under steady traffic the server frees and
 * reuses socket reads and reply buffers all the time, so at 100 ms it kept handing pages back and
 * faulting them in again; on a virtual machine each hand-back also interrupts the other cores to
 * flush their address caches. `serve` therefore runs itself again once, at start, with
 * MIMALLOC_PURGE_DELAY set to PURGE_DELAY_MS (docs/performance.md has the figures): execve(2)
 * of the program running (`programPath`) with the same arguments (/proc/self/cmdline) and environment
 * (/proc/self/environ) plus that variable, byte for byte (a path that is not UTF-8 stays the
 * same path): the same process id, descriptors and terminal, for the binary and for `bun
 * src/main.ts` alike. The path given to execve names the process (ps, pgrep, killall, top), so
 * it is the one the process was started by (argv[0]) when that is a path to the same file, else
 * the file's real path; /proc/self/exe itself (the process then named `exe`) only when neither
 * is. Memory still goes back once it has been free that long.
 *
 * Invariant: at most one run again: the new program sees the variable and goes on. An operator's
 * own MIMALLOC_PURGE_DELAY (any value) is kept as it is, and where execve can't be made (not
 * Linux, no /proc) the server goes on with Bun's default.
 */
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { libc } from "../libc.ts";

export const PURGE_DELAY_VARIABLE = "MIMALLOC_PURGE_DELAY";
/** The purge delay the server runs with, ms. */
export const PURGE_DELAY_MS = 1_000;

/** Runs this process again with the allocator's purge delay set, unless the environment sets it already; returns only if it didn't. */
export function tuneAllocator(env: NodeJS.ProcessEnv = process.env): void {
  if (env[PURGE_DELAY_VARIABLE] !== undefined) return;
  const c = libc();
  const args = procStrings("cmdline");
  const environment = procStrings("environ");
  if (c === null || args === null || args.length === 0 || environment === null) return;
  environment.push(Buffer.from(`${PURGE_DELAY_VARIABLE}=${PURGE_DELAY_MS}`));
  c.execve(programPath(args[0]!.toString()), args, environment);
}

/**
 * A path to the program running that names it as it was named at start: `argv0` if it is a path
 * (it holds a slash) to the same file, else the file's real path, else /proc/self/exe (always
 * the same file, but the process would be named `exe`).
 */
function programPath(argv0: string): string {
  const SELF = "/proc/self/exe";
  try {
    const self = statSync(SELF);
    const sameFile = (path: string) => {
      const other = statSync(path, { throwIfNoEntry: false });
      return other !== undefined && other.ino === self.ino && other.dev === self.dev;
    };
    if (argv0.includes("/") && sameFile(argv0)) return argv0;
    const real = readlinkSync(SELF);
    if (sameFile(real)) return real;
  } catch {
    // Not found or not readable: the link itself.
  }
  return SELF;
}

/**
 * This process's arguments (argv[0] included) or environment as it was started, each string's
 * bytes as they are (a JS string would turn bytes that are not UTF-8 into U+FFFD), or null if
 * /proc can't say.
 */
function procStrings(file: "cmdline" | "environ"): Buffer[] | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(`/proc/self/${file}`);
  } catch {
    return null;
  }
  const strings: Buffer[] = [];
  // Each string ends with a NUL.
  for (let start = 0, end = bytes.indexOf(0); end >= 0; start = end + 1, end = bytes.indexOf(0, start)) strings.push(bytes.subarray(start, end));
  return strings;
}
