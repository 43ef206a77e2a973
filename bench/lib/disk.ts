/**
 * Disk space for benchmarks that write journals: what a filesystem has free, a refusal to start
 * without enough, and what a data dir holds.
 */
import { readdirSync, statSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { SettingsError } from "./settings.ts";

export const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;

/** Bytes an unprivileged user may still write on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/**
 * Says (on stderr) what the run needs under `dir` and throws a SettingsError naming `advice`
 * (how to need less) when the filesystem has less than `neededBytes` free.
 */
export function requireFreeSpace(dir: string, neededBytes: number, what: string, advice: string): void {
  const free = freeBytes(dir);
  console.error(`disk: ${what}; needs ${gb(neededBytes)} free under ${dir}, which has ${gb(free)} free`);
  if (free < neededBytes) {
    throw new SettingsError(`not enough disk space under ${dir}: ${gb(free)} free, ${gb(neededBytes)} needed; set TMPDIR to a bigger filesystem or ${advice}`);
  }
}

/** Total size and number of the files under `dir`. */
export function diskUsage(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
    files++;
  }
  return { bytes, files };
}
