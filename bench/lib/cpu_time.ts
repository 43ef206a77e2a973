/**
 * CPU time, read from the kernel: a child process's (a server under test) from /proc/<pid>/stat,
 * the whole machine's busy time from /proc/stat, and this process's own. A benchmark subtracts
 * the ones it knows from the machine's to see how much of the CPUs something else took.
 *
 * Readings of a process that has exited, or of a /proc that can't be read, are NaN, never errors.
 */
import { readFileSync } from "node:fs";

let clockTicks: number | null = null;

function ticksPerSecond(): number {
  clockTicks ??= Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  return clockTicks;
}

/** CPU seconds (user + system) process `pid` has used so far; NaN once it has exited. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds the whole machine has been busy so far, all cores together: user, nice, system, irq
 * and softirq time from /proc/stat (not idle, iowait or steal).
 */
export function machineBusySeconds(): number {
  try {
    const cpuLine = readFileSync("/proc/stat", "latin1").split("\n", 1)[0]!;
    const [user, nice, system, , , irq, softirq] = cpuLine.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? NaN) + (nice ?? NaN) + (system ?? NaN) + (irq ?? NaN) + (softirq ?? NaN)) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/** CPU seconds this (load-generator) process has used so far. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}
