/**
 * Bun's native allocator (mimalloc) gives memory freed by the server back to the system
 * (`madvise`) once it has stayed free for its purge delay, 100 ms in Bun, and reads that delay
 * from the environment only as the process starts. Under steady traffic the server frees and
 * reuses socket reads and reply buffers all the time, so at 100 ms it kept handing pages back and
 * faulting them in again; on a virtual machine each hand-back also interrupts the other cores to
 * flush their address caches. `serve` therefore runs itself again once, at start, with
 * MIMALLOC_PURGE_DELAY set to PURGE_DELAY_MS (docs/performance.md has the figures): execve(2)
 * of /proc/self/exe with the same arguments (/proc/self/cmdline) and environment plus that
 * variable: the same process id, descriptors and terminal, for the binary and for `bun
 * src/main.ts` alike. Memory still goes back once it has been free that long.
 *
 * Invariant: at most one run again: the new program sees the variable and goes on. An operator's
 * own MIMALLOC_PURGE_DELAY (any value) is kept as it is, and where execve can't be made (not
 * Linux, no /proc) the server goes on with Bun's default.
 */
import { readFileSync } from "node:fs";
import { libc } from "../libc.ts";

export const PURGE_DELAY_VARIABLE = "MIMALLOC_PURGE_DELAY";
/** The purge delay the server runs with, ms. */
export const PURGE_DELAY_MS = 1_000;

/** Runs this process again with the allocator's purge delay set, unless the environment sets it already; returns only if it didn't. */
export function tuneAllocator(env: NodeJS.ProcessEnv = process.env): void {
  if (env[PURGE_DELAY_VARIABLE] !== undefined) return;
  const c = libc();
  const args = commandLine();
  if (c === null || args === null) return;
  const environment = Object.entries({ ...env, [PURGE_DELAY_VARIABLE]: String(PURGE_DELAY_MS) }).map(([name, value]) => `${name}=${value}`);
  c.execve("/proc/self/exe", args, environment);
}

/** This process's arguments as it was started (argv[0] included), or null if /proc can't say. */
function commandLine(): string[] | null {
  try {
    const args = readFileSync("/proc/self/cmdline", "utf8").split("\0");
    args.pop(); // each argument ends with a NUL: the last piece is empty
    return args.length > 0 ? args : null;
  } catch {
    return null;
  }
}
