/**
 * Keeps the bytes recovery cuts out of a journal, instead of destroying them.
 *
 * Each damaged range goes to `queue_path/quarantine/<queue>.<utc time>.<start>-<end>.bad`,
 * written and fsynced before the journal itself is repaired, so a crash during recovery loses
 * nothing.
 */
import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fsyncDirectory, writeFully } from "./files.ts";
import type { Damage } from "./replay.ts";

export const QUARANTINE_DIR = "quarantine";

export function quarantine(queuePath: string, queue: string, bytes: Uint8Array, damage: readonly Damage[], now: Date): string[] {
  const dir = join(queuePath, QUARANTINE_DIR);
  mkdirSync(dir, { recursive: true });
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const written: string[] = [];
  for (const range of damage) {
    const path = join(dir, `${queue}.${stamp}.${range.start}-${range.end}.bad`);
    const fd = openSync(path, "w", 0o644);
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
