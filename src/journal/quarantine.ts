/**
 * Keeps the bytes recovery cuts out of a journal, instead of destroying them.
 *
 * Each damaged range goes to `queue_path/.kestrel/quarantine/<queue>.<utc time>.<start>-<end>.bad`
 * (`<queue>` being the queue's file name, see queue_name.ts; with
 * `.1`, `.2`, ... before `.bad` if that name is taken: nothing quarantined is ever overwritten),
 * written and fsynced before the journal itself is repaired, so a crash during recovery loses
 * nothing.
 */
import { join } from "node:path";
import { QUARANTINE_DIR, serverFilePath } from "./data_directory.ts";
import { fileSystem, fsyncDirectory, writeNewFile } from "./files.ts";
import type { Damage } from "./scan.ts";
import { queueFileName } from "../queue_name.ts";

/** Where quarantined bytes of journals in `queuePath` go. */
export function quarantineDirectory(queuePath: string): string {
  return serverFilePath(queuePath, QUARANTINE_DIR);
}

export function quarantine(queuePath: string, queue: string, bytes: Uint8Array, damage: readonly Damage[], now: Date): string[] {
  const dir = quarantineDirectory(queuePath);
  fileSystem.mkdir(dir);
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const written: string[] = [];
  for (const range of damage) {
    written.push(createUnique(dir, `${queueFileName(queue)}.${stamp}.${range.start}-${range.end}`, bytes.subarray(range.start, range.end)));
  }
  fsyncDirectory(dir);
  return written;
}

/** Writes `bytes` to `<base>.bad`, or `<base>.<n>.bad` for the first n not taken; returns the path. */
function createUnique(dir: string, base: string, bytes: Uint8Array): string {
  for (let n = 0; ; n++) {
    const path = join(dir, n === 0 ? `${base}.bad` : `${base}.${n}.bad`);
    try {
      writeNewFile(path, [bytes], "wx");
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}
