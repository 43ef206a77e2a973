/**
 * What /proc says about a process (a server under test, or this benchmark) beyond its memory
 * (`KestrelChild.memory`): resetting its peak RSS, its open file descriptors and their limit.
 *
 * Readings of a process that has exited are NaN rather than errors, so a benchmark can report a
 * server that died instead of dying with it; changes (the peak's reset, the limit) say whether
 * they were accepted.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

/** Asks the kernel to set VmHWM back to the current RSS (Linux 4.0+, `echo 5 > clear_refs`); false if it refused. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** File descriptors the process has open (sockets, journals, pipes), or NaN if it is gone. */
export function openDescriptors(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** The process's soft limit on open files, or NaN. */
export function descriptorLimit(pid: number): number {
  try {
    const limits = readFileSync(`/proc/${pid}/limits`, "latin1");
    return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/**
 * Raises the process's open-file limit (soft and hard) to at least `wanted` with prlimit(1),
 * which needs CAP_SYS_RESOURCE to go past the hard limit. Returns the soft limit now in force.
 */
export function raiseDescriptorLimit(pid: number, wanted: number): number {
  if (descriptorLimit(pid) >= wanted) return descriptorLimit(pid);
  if (Bun.which("prlimit") !== null) {
    Bun.spawnSync(["prlimit", "--pid", String(pid), `--nofile=${wanted}:${wanted}`], { stdout: "ignore", stderr: "ignore" });
  }
  return descriptorLimit(pid);
}
