/**
 * The file a journal appends to: its descriptor, how much of it is intact and ours, and the
 * file-system steps on it (append, cut back, fsync, notice it was deleted) and on its successor
 * (a fresh file made under a temp name, then given the active name at a rotation or a rebuild).
 * Every step throws the errno error it met; what a failure means is the writer's business.
 *
 * The descriptor is opened when first needed and closed when idle (idle_files.ts), so an idle
 * queue holds no open file, and a new queue's file is created by its first write (a `get` of a
 * new name creates nothing on disk). A closed file is reopened by name, never created again: if
 * it is gone or another file has its name, the step fails and `damage()` says so. The descriptor
 * reads too: a file deleted (or renamed over) while open is still ours through it, whole, and a
 * rebuild reads the items waiting in it from there (`orphaned`).
 *
 * Invariants: `extent` counts the bytes and records at the start of the file that are intact and
 * ours (before the file is created: the header it will get); a fresh file is complete (header and
 * SEGMENT record written, synced when asked) before it takes a name replay reads; a sealed segment
 * is never overwritten; a descriptor an fsync is still using is closed only once that fsync
 * returns; `identity` is the file's (dev, ino) from the moment it exists; a file found cut stays
 * damaged (`damage()`, never `orphaned()`) until a fresh file replaces it. Descriptors waiting
 * for an fsync to return (`retired`) are a list replaced, never changed, empty as one shared array.
 */
import { dirname } from "node:path";
import { closeQuietly, fileSystem, fsyncDirectory, removeQuietly, tempPathFor, writeFully, type FileInfo } from "./files.ts";
import { fsyncGrouped } from "./grouped_fsync.ts";
import { crowded, forget, touch, type IdleClosable } from "./idle_files.ts";
import { FILE_HEADER_SIZE, encodeFileHeader, encodeSegmentRecord, type SegmentInfo } from "./record.ts";

/** Bytes and records. */
export interface Extent {
  readonly bytes: number;
  readonly records: number;
}

export function grow(extent: Extent, by: Extent): Extent {
  return { bytes: extent.bytes + by.bytes, records: extent.records + by.records };
}

/** A file made ready to become the active segment, under a temp name. */
export interface FreshFile {
  readonly temp: string;
  readonly fd: number;
  readonly identity: Identity;
  readonly extent: Extent;
  /** Its bytes were fsynced. */
  readonly synced: boolean;
}

/** Which file a name pointed to when we last had it open. */
export interface Identity {
  readonly dev: number;
  readonly ino: number;
}

/** A file that lost its name while open (see ActiveFile.orphaned): read through `fd` up to `bytes`, while it is still file `ino` of `dev`. */
export interface OrphanedFile {
  readonly fd: number;
  readonly bytes: number;
  readonly dev: number;
  readonly ino: number;
}

/** No descriptor waiting to be closed (shared, never written to). */
const NO_DESCRIPTORS: readonly number[] = [];

export class ActiveFile implements IdleClosable {
  /** -1 while closed: not created yet, or closed while idle. */
  private fd = -1;
  /** The file's identity once it exists; null until its first write creates it. */
  private identity: Identity | null = null;
  extent: Extent;
  /** A rotation sealed the old file but the fresh one (here, under its temp name) is not in place yet. */
  private unnamed: string | null = null;
  private syncsInFlight = 0;
  private retired: readonly number[] = NO_DESCRIPTORS;
  /** fsync the directory when the file is created (the sync policy wants new files durable). */
  durableCreate = true;
  /**
   * Why the file was found cut short under the writer (by `damage()`), or null: it stays damaged
   * even once its size no longer says so (the writer took back what it wrote past the cut).
   */
  private cut: string | null = null;
  /** Appends and cuts made to the file so far, and how many of them the last fsync that worked covers. */
  private changes = 0;
  private syncedChanges = 0;

  /**
   * The active file at `path`: `found` (as replay left it; its intact part holds `records`
   * records), or, if null, one created (with a header) by the first step that needs it. `writer`
   * says whether it owes nothing on it (no fsync planned), so that its descriptor may be closed.
   */
  constructor(
    readonly path: string,
    found: FileInfo | null,
    records: number,
    private readonly writer: { owesNothing(): boolean },
  ) {
    this.identity = found === null ? null : identityOf(found);
    this.extent = { bytes: found === null ? FILE_HEADER_SIZE : found.size, records };
    if (found?.size === 0) {
      // An empty file (a crash right after it was created): it gets its header now.
      try {
        this.append([encodeFileHeader()], { bytes: FILE_HEADER_SIZE, records: 0 });
      } finally {
        this.closeDescriptor();
      }
    }
  }

  /** The file's inode, or null if it was not created yet. */
  get inode(): number | null {
    return this.identity?.ino ?? null;
  }

  /**
   * What happened to the file under the writer, or null: its name no longer points to it (deleted,
   * moved away, or another file renamed over it), or it is shorter than what was written to it
   * (cut). Looked up by name, not through the descriptor: a file moved away (`mv`) still has a
   * name elsewhere, and the writer would go on appending to it, where no replay looks, until an
   * upkeep noticed (a crash meanwhile lost the sets acknowledged since). One stat a write either way.
   */
  damage(): string | null {
    const file = fileSystem.stat(this.path);
    if (this.identity === null) return file === null ? null : "was replaced by a file not written by this server";
    if (file === null || !sameFile(file, this.identity)) return "was deleted or replaced";
    return this.noteCut(file);
  }

  /** The file was found cut (see `cut`): true from then on, until a fresh file replaces it. */
  get foundCut(): boolean {
    return this.cut !== null;
  }

  /** Whether `file` (this one) is cut short of the extent, or was found so before; remembered. */
  private noteCut(file: FileInfo): string | null {
    this.cut ??= cutText(file, this.extent);
    return this.cut;
  }

  /**
   * The last `extent` appended are no longer counted as the file's (the writer keeps their records:
   * the file was found cut after they went to it, wherever they landed).
   */
  takeBack(extent: Extent): void {
    this.extent = { bytes: this.extent.bytes - extent.bytes, records: this.extent.records - extent.records };
  }

  /**
   * The file as this writer holds it open, whole, wherever its name went (asked once `damage()`
   * found it deleted, moved, or another file renamed over it): the descriptor to read it through
   * (while this file keeps it open) and how many bytes of it are intact and ours. Null if the
   * descriptor is closed (nothing holds the file any more) or the file was cut. Throws for I/O errors.
   */
  orphaned(): OrphanedFile | null {
    if (this.fd < 0 || this.identity === null || this.cut !== null) return null;
    if (cutText(fileSystem.fstat(this.fd), this.extent) !== null) return null;
    return { fd: this.fd, bytes: this.extent.bytes, dev: this.identity.dev, ino: this.identity.ino };
  }

  append(chunks: readonly Uint8Array[], added: Extent): void {
    this.changes++;
    writeFully(this.descriptor(), chunks);
    this.appended(added);
  }

  /**
   * Writes `length` bytes of `chunks` (taken as one run of bytes) from byte `from`, past the
   * extent: they become part of it only by `appended`, once the whole batch is written.
   */
  appendPart(chunks: readonly Uint8Array[], from: number, length: number): void {
    this.changes++;
    writeFully(this.descriptor(), bytesBetween(chunks, from, from + length));
  }

  /** Bytes just written at the end of the extent (by `appendPart`) are intact records: they join it. */
  appended(added: Extent): void {
    this.extent = grow(this.extent, added);
  }

  /**
   * Cuts the file back to `extent` (dropping bytes of a failed write, or not confirmed by an
   * fsync); false if that failed: the file may then hold bytes past its extent until a later
   * `cutBack()` succeeds.
   */
  cutBack(extent: Extent = this.extent): boolean {
    try {
      this.cutBackOrThrow(extent);
      return true;
    } catch {
      return false;
    }
  }

  /** `cutBack`, throwing why it failed (the file could not be opened, or truncated). */
  cutBackOrThrow(extent: Extent = this.extent): void {
    this.extent = extent;
    this.changes++;
    fileSystem.ftruncate(this.descriptor(), extent.bytes);
  }

  /** fsyncs the file (nothing to do if nothing changed since the last fsync, or it was never created). */
  sync(): void {
    if (this.identity === null || this.changes === this.syncedChanges) return;
    const covered = this.changes;
    fileSystem.fsync(this.descriptor());
    this.syncedChanges = covered;
  }

  /** Bytes were written (or cut) since the last fsync that worked. */
  get unsynced(): boolean {
    return this.identity !== null && this.changes !== this.syncedChanges;
  }

  /** Everything written so far reached the disk by other means (a sync of the whole file system). */
  noteSynced(): void {
    this.syncedChanges = this.changes;
  }

  /** fsync off the event loop (with the others of this turn: grouped_fsync.ts); `done` runs once it returns. */
  syncAsync(done: (error: Error | null) => void): void {
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (error) {
      return queueMicrotask(() => done(error as Error));
    }
    this.syncsInFlight++;
    const covered = this.changes;
    const identity = this.identity;
    fsyncGrouped(this.path, fd, (error) => {
      if (error === null && identity === this.identity) this.syncedChanges = Math.max(this.syncedChanges, covered);
      if (--this.syncsInFlight === 0) this.closeRetired();
      done(error);
    });
  }

  syncDirectory(): void {
    fsyncDirectory(dirname(this.path));
  }

  /** A fresh file beside this one holding a header and a SEGMENT record saying `info` (synced if `sync`). */
  prepare(info: SegmentInfo, sync: boolean): FreshFile {
    const temp = tempPathFor(this.path);
    const fd = fileSystem.open(temp, "ax+");
    try {
      const chunks = [encodeFileHeader(), encodeSegmentRecord(info)];
      writeFully(fd, chunks);
      if (sync) fileSystem.fsync(fd);
      return { temp, fd, identity: identityOf(fileSystem.fstat(fd)), extent: { bytes: chunks[0]!.length + chunks[1]!.length, records: 1 }, synced: sync };
    } catch (error) {
      discard({ temp, fd });
      throw error;
    }
  }

  /**
   * Renames this file to `sealedPath` and `fresh` to the active name, then appends to `fresh`.
   * Throws, with nothing changed, if the first rename can't be done (or `sealedPath` exists). If
   * the second fails and the first can't be undone, returns false: the old file is sealed, the
   * fresh one is in use under its temp name, and `finishName` must put it in place.
   */
  seal(sealedPath: string, fresh: FreshFile): boolean {
    try {
      if (fileSystem.stat(sealedPath) !== null) throw new Error(`${sealedPath} already exists; a sealed segment is never overwritten`);
      fileSystem.rename(this.path, sealedPath);
    } catch (error) {
      discard(fresh);
      throw error;
    }
    try {
      fileSystem.rename(fresh.temp, this.path);
    } catch (error) {
      try {
        fileSystem.rename(sealedPath, this.path);
      } catch {
        this.use(fresh);
        this.unnamed = fresh.temp;
        return false;
      }
      discard(fresh);
      throw error;
    }
    this.use(fresh);
    return true;
  }

  /** Gives `fresh` the active name, whatever is there now, and appends to it. Throws, with nothing changed, if it can't. */
  replaceWith(fresh: FreshFile): void {
    try {
      fileSystem.rename(fresh.temp, this.path);
    } catch (error) {
      discard(fresh);
      throw error;
    }
    if (this.unnamed !== null) removeQuietly(this.unnamed);
    this.unnamed = null;
    this.use(fresh);
  }

  /** Puts the file a failed rotation left under its temp name in place (nothing to do otherwise). */
  finishName(): void {
    if (this.unnamed === null) return;
    fileSystem.rename(this.unnamed, this.path);
    this.unnamed = null;
    this.syncDirectory();
  }

  /** Creates the file if no write did yet (it is about to be sealed); returns its identity. */
  ensureExists(): Identity {
    this.descriptor();
    return this.identity!;
  }

  /** Closes the file (after any fsync in flight) and, with `dispose`, takes it away (and a fresh file not yet named). */
  close(dispose: ((path: string) => void) | null = null): void {
    this.closeDescriptor();
    if (dispose === null) return;
    dispose(this.path);
    if (this.unnamed !== null) dispose(this.unnamed);
  }

  closeIfIdle(): boolean {
    if (this.syncsInFlight > 0 || !this.writer.owesNothing()) return false;
    this.closeDescriptor();
    return true;
  }

  /** Closes the descriptor now if too many journal files are open (idle_files.ts) and nothing needs it. */
  closeIfCrowded(): void {
    if (this.fd >= 0 && crowded()) this.closeIfIdle();
  }

  /** The open descriptor, reopening the file (or creating it, the first time) if needed. */
  private descriptor(): number {
    if (this.fd < 0) this.fd = this.identity === null ? this.create() : this.reopen();
    touch(this);
    return this.fd;
  }

  /** Creates the file with its header (it must not exist: another file at its name is not ours). */
  private create(): number {
    let fd: number;
    try {
      fd = fileSystem.open(this.path, "ax+");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const what = fileSystem.stat(this.path)?.isDirectory ? "a directory" : "a file not written by this server";
      throw new Error(`${this.path} is ${what}; move it out of the way`);
    }
    try {
      writeFully(fd, [encodeFileHeader()]);
      this.identity = identityOf(fileSystem.fstat(fd));
    } catch (error) {
      closeQuietly(fd);
      removeQuietly(this.path);
      throw error;
    }
    if (this.durableCreate) this.syncDirectory();
    return fd;
  }

  /** Opens the file again by name; throws if it is gone or is not the same file any more. */
  private reopen(): number {
    const fd = fileSystem.open(this.path, "append");
    try {
      if (!sameFile(fileSystem.fstat(fd), this.identity!)) throw new Error(`${this.path} was replaced by another file while closed`);
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
    return fd;
  }

  private closeDescriptor(): void {
    forget(this);
    if (this.fd >= 0) this.retire(this.fd);
    this.fd = -1;
  }

  private use(fresh: FreshFile): void {
    this.closeDescriptor();
    this.cut = null;
    this.fd = fresh.fd;
    this.identity = fresh.identity;
    this.extent = fresh.extent;
    this.changes = fresh.synced ? 0 : 1;
    this.syncedChanges = 0;
    touch(this);
  }

  private retire(fd: number): void {
    if (this.syncsInFlight > 0) this.retired = [...this.retired, fd];
    else closeQuietly(fd);
  }

  /** The last fsync in flight returned: the descriptors replaced meanwhile are closed. */
  private closeRetired(): void {
    const retired = this.retired;
    this.retired = NO_DESCRIPTORS;
    for (const fd of retired) closeQuietly(fd);
  }
}

/** The views of `chunks` covering bytes [start, end) of their run. */
function bytesBetween(chunks: readonly Uint8Array[], start: number, end: number): Uint8Array[] {
  const views: Uint8Array[] = [];
  let offset = 0;
  for (const chunk of chunks) {
    const chunkEnd = offset + chunk.length;
    if (chunkEnd > start && offset < end) views.push(chunk.subarray(Math.max(start - offset, 0), Math.min(end - offset, chunk.length)));
    if (chunkEnd >= end) break;
    offset = chunkEnd;
  }
  return views;
}

function identityOf(file: FileInfo): Identity {
  return { dev: file.dev, ino: file.ino };
}

function sameFile(file: FileInfo, identity: Identity): boolean {
  return file.dev === identity.dev && file.ino === identity.ino;
}

function cutText(file: FileInfo, extent: Extent): string | null {
  return file.size < extent.bytes ? `was cut from ${extent.bytes} to ${file.size} bytes` : null;
}

/** Closes and deletes a temp file that won't be used. */
export function discard(file: { readonly temp: string; readonly fd: number }): void {
  closeQuietly(file.fd);
  removeQuietly(file.temp);
}
