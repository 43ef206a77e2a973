/**
 * The journal's one door to the file system, and the crash-safe primitives built on it.
 *
 * Every file operation of the journal layer goes through `fileSystem`, a plain object whose
 * members a test may replace one at a time (test/helpers/faulty_fs.ts makes them fail with
 * ENOSPC, EIO, a short write, ...); nothing else under src/journal imports node:fs. The members
 * throw errno errors exactly as node:fs does.
 *
 * `replaceFileAtomically` leaves either the old or the new contents at `path` after a crash at
 * any point: temp file, fsync, rename, directory fsync.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { libc } from "../libc.ts";
import { syncFileSystemAsync, syncfsReady } from "./syncfs_worker.ts";

export type OpenFlags = "r" | "a" | "ax" | "ax+" | "w" | "wx" | "append";

const APPEND_EXISTING = fs.constants.O_RDWR | fs.constants.O_APPEND;

/** What the journal needs to know of a file. */
export interface FileInfo {
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  /** Names the file has; 0 once it was deleted while open. */
  readonly nlink: number;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

export interface DirectoryEntry {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

export interface FileSystem {
  /**
   * Flags as node:fs takes them ("a" appends, "x" fails if the file exists, "+" reads too), and
   * "append": append to a file that must exist (never creates one), and read it.
   */
  open(path: string, flags: OpenFlags, mode?: number): number;
  close(fd: number): void;
  /** Writes some of `chunks` (gathered); returns the bytes written, which may be fewer. */
  writev(fd: number, chunks: readonly Uint8Array[]): number;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fstat(fd: number): FileInfo;
  /**
   * The file at `path` (links are not followed), or null when there is none. Null rather than a
   * thrown ENOENT: an error object costs about 1.5 KB until a collection, and a server asks about
   * files that aren't there for every new queue and every delete.
   */
  stat(path: string): FileInfo | null;
  fsync(fd: number): void;
  /**
   * Writes every file of the file system that holds `path` to disk (Linux syncfs: one call, where
   * an fsync per file costs about 0.4 ms each). Throws if that fails or there is no syncfs here.
   */
  syncFileSystem(path: string): void;
  /** fsync off the event loop. */
  fsyncAsync(fd: number, done: (error: Error | null) => void): void;
  /** Whether `syncFileSystemAsync` can be used now (syncfs_worker.ts; the first ask starts its worker). */
  syncFileSystemReady(): boolean;
  /** `syncFileSystem` of the file system holding the directory `dir`, off the event loop. */
  syncFileSystemAsync(dir: string, done: (error: Error | null) => void): void;
  ftruncate(fd: number, length: number): void;
  truncate(path: string, length: number): void;
  rename(from: string, to: string): void;
  /** Gives the file at `existing` a second name, `newPath` (a hard link); fails if `newPath` exists. */
  link(existing: string, newPath: string): void;
  /** Deletes a file; no error if it is already gone. */
  remove(path: string): void;
  /** `remove` off the event loop (freeing a big file's blocks and cached pages can take tens of ms). */
  removeAsync(path: string, done: (error: Error | null) => void): void;
  /** Deletes an empty directory. */
  removeDirectory(path: string): void;
  mkdir(path: string): void;
  readdir(path: string): DirectoryEntry[];
  readFile(path: string): Uint8Array;
}

function infoOf(stats: fs.Stats): FileInfo {
  return { size: stats.size, dev: stats.dev, ino: stats.ino, nlink: stats.nlink, isFile: stats.isFile(), isDirectory: stats.isDirectory() };
}

/** The real file system. Tests may swap members; production code never does. */
export const fileSystem: FileSystem = {
  open: (path, flags, mode = 0o644) => fs.openSync(path, flags === "append" ? APPEND_EXISTING : flags, mode),
  close: (fd) => fs.closeSync(fd),
  writev: (fd, chunks) => fs.writevSync(fd, chunks as Uint8Array[]),
  read: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  fstat: (fd) => infoOf(fs.fstatSync(fd)),
  stat: (path) => {
    const stats = fs.lstatSync(path, { throwIfNoEntry: false });
    return stats === undefined ? null : infoOf(stats);
  },
  fsync: (fd) => fs.fsyncSync(fd),
  syncFileSystem: (path) => {
    const fd = fs.openSync(path, "r");
    try {
      const syncfs = libc()?.syncfs;
      if (syncfs === undefined) throw new Error("syncfs exists only on Linux (glibc)");
      if (syncfs(fd) !== 0) throw new Error(`syncfs of the file system holding ${path} failed`);
    } finally {
      fs.closeSync(fd);
    }
  },
  fsyncAsync: (fd, done) => fs.fsync(fd, (error) => done(error)),
  syncFileSystemReady: syncfsReady,
  syncFileSystemAsync: syncFileSystemAsync,
  ftruncate: (fd, length) => fs.ftruncateSync(fd, length),
  truncate: (path, length) => fs.truncateSync(path, length),
  rename: (from, to) => fs.renameSync(from, to),
  link: (existing, newPath) => fs.linkSync(existing, newPath),
  // Looks first: rmSync builds (and drops) an ENOENT error for a file that is not there.
  remove: (path) => {
    if (fs.lstatSync(path, { throwIfNoEntry: false }) !== undefined) fs.rmSync(path, { force: true });
  },
  removeAsync: (path, done) => fs.rm(path, { force: true }, (error) => done(error)),
  removeDirectory: (path) => fs.rmdirSync(path),
  mkdir: (path) => void fs.mkdirSync(path, { recursive: true }),
  readdir: (path) => fs.readdirSync(path, { withFileTypes: true }).map((entry) => ({ name: entry.name, isFile: entry.isFile(), isDirectory: entry.isDirectory() })),
  readFile: (path) => fs.readFileSync(path),
};

/** Closes `fd`, ignoring errors (a close that fails leaves nothing to do). */
export function closeQuietly(fd: number): void {
  try {
    fileSystem.close(fd);
  } catch {
    // Nothing to recover: the descriptor is gone either way.
  }
}

/** The file at `path`; throws ENOENT, as node:fs does, if there is none (and for other errors). */
export function statExisting(path: string): FileInfo {
  const file = fileSystem.stat(path);
  if (file !== null) return file;
  throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${path}'`), { code: "ENOENT", path });
}

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
    let written = fileSystem.writev(fd, batch);
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
  const fd = fileSystem.open(dir, "r");
  try {
    fileSystem.fsync(fd);
  } finally {
    closeQuietly(fd);
  }
}

/** `fsyncDirectory` off the event loop: `done` gets null, or the error of the open or the fsync (never during the call). */
export function fsyncDirectoryAsync(dir: string, done: (error: Error | null) => void): void {
  let fd: number;
  try {
    fd = fileSystem.open(dir, "r");
  } catch (error) {
    return void setImmediate(() => done(error instanceof Error ? error : new Error(String(error))));
  }
  fileSystem.fsyncAsync(fd, (error) => {
    closeQuietly(fd);
    done(error);
  });
}

/** Reads up to `length` bytes at `position` into the start of `buffer`; fewer only at the end of the file. */
export function readFully(fd: number, buffer: Uint8Array, length: number, position: number): Uint8Array {
  let filled = 0;
  while (filled < length) {
    const n = fileSystem.read(fd, buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/** A temp file beside `path`, named so that start-up recognises and deletes a leftover one. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

/** Creates `path` holding `chunks`, fsynced (not its directory). Leaves nothing behind on failure. */
export function writeNewFile(path: string, chunks: readonly Uint8Array[], flags: "w" | "wx" = "w"): void {
  const fd = fileSystem.open(path, flags);
  let closing = false;
  try {
    writeFully(fd, chunks);
    fileSystem.fsync(fd);
    closing = true;
    fileSystem.close(fd);
  } catch (error) {
    if (!closing) closeQuietly(fd);
    removeQuietly(path);
    throw error;
  }
}

/** Renames `temp` to `path`; if that fails, deletes `temp` (where it can) and throws the rename's error. */
export function moveIntoPlace(temp: string, path: string): void {
  try {
    fileSystem.rename(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
}

/** Deletes a file, ignoring errors (a leftover temp file is deleted at the next start). */
export function removeQuietly(path: string): void {
  try {
    fileSystem.remove(path);
  } catch {
    // Left behind: start-up deletes leftover temp files.
  }
}

export function replaceFileAtomically(path: string, chunks: readonly Uint8Array[]): void {
  const temp = tempPathFor(path);
  writeNewFile(temp, chunks);
  moveIntoPlace(temp, path);
  fsyncDirectory(dirname(path));
}
