/**
 * Keeps the bytes recovery cuts out of a journal, instead of destroying them.
 *
 * Each damaged range goes to `queue_path/quarantine/<queue>.<utc time>.<start>-<end>.bad` (with
 * `.1`, `.2`, ... before `.bad` if that name is taken: nothing quarantined is ever overwritten),
 * written and fsynced before the journal itself is repaired, so a crash during recovery loses
 * nothing.
 */
import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fsyncDirectory, writeFully } from "./files.ts";
import type { Damage } from "./scan.ts";

export const QUARANTINE_DIR = "quarantine";

export function quarantine(queuePath: string, queue: string, bytes: Uint8Array, damage: readonly Damage[], now: Date): string[] {
  const dir = join(queuePath, QUARANTINE_DIR);
  mkdirSync(dir, { recursive: true });
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const written: string[] = [];
  for (const range of damage) {
    const { path, fd } = createUnique(dir, `${queue}.${stamp}.${range.start}-${range.end}`);
    try {
      writeFully(fd, [bytes.subarray(range.start, range.end)]);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    written.push(path);
  }
  fsyncDirectory(dir);
  return written;
}

/** Creates `<base>.bad`, or `<base>.<n>.bad` for the first n not taken. */
function createUnique(dir: string, base: string): { path: string; fd: number } {
  for (let n = 0; ; n++) {
    const path = join(dir, n === 0 ? `${base}.bad` : `${base}.${n}.bad`);
    try {
      return { path, fd: openSync(path, "wx", 0o644) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}
