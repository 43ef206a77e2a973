/**
 * File-system primitives the journal relies on for crash safety.
 *
 * `replaceFileAtomically` leaves either the old or the new contents at `path` after a crash at
 * any point: temp file, fsync, rename, directory fsync.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writevSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Groups many small buffers into at most IOV_MAX-sized writev batches and loops on short writes. */
export function writeFully(fd: number, chunks: readonly Uint8Array[]): void {
  let index = 0;
  let skip = 0;
  while (index < chunks.length) {
    const batch: Uint8Array[] = [];
    for (let i = index; i < chunks.length && batch.length < 1024; i++) {
      const chunk = chunks[i]!;
      batch.push(i === index && skip > 0 ? chunk.subarray(skip) : chunk);
    }
    let written = writevSync(fd, batch);
    if (written === 0 && batch.some((chunk) => chunk.length > 0)) throw new Error("write made no progress");
    while (index < chunks.length && written > 0) {
      const left = chunks[index]!.length - skip;
      if (written >= left) {
        written -= left;
        index++;
        skip = 0;
      } else {
        skip += written;
        written = 0;
      }
    }
    while (index < chunks.length && chunks[index]!.length === 0) index++;
  }
}

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads up to `length` bytes at `position` into the start of `buffer`; fewer only at the end of the file. */
export function readFully(fd: number, buffer: Uint8Array, length: number, position: number): Uint8Array {
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/** A temp file beside `path`, named so that start-up recognises and deletes a leftover one. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

export function replaceFileAtomically(path: string, chunks: readonly Uint8Array[]): void {
  const temp = tempPathFor(path);
  try {
    const fd = openSync(temp, "w", 0o644);
    try {
      writeFully(fd, chunks);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDirectory(dirname(path));
}
