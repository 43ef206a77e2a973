/**
 * The file a journal appends to: its descriptor, how much of it is intact and ours, and the
 * file-system steps on it (append, cut back, fsync, notice it was deleted) and on its successor
 * (a fresh file made under a temp name, then given the active name at a rotation or a rebuild).
 * Every step throws the errno error it met; what a failure means is the writer's business.
 *
 * Invariants: `extent` counts the bytes and records at the start of the file that are intact and
 * ours; a fresh file is complete (header and SEGMENT record written, synced when asked) before it
 * takes a name replay reads; a sealed segment is never overwritten; a descriptor an fsync is still
 * using is closed only once that fsync returns.
 */
import { dirname } from "node:path";
import { closeQuietly, fileSystem, fsyncDirectory, removeQuietly, statIfExists, tempPathFor, writeFully } from "./files.ts";
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
  readonly extent: Extent;
}

export class ActiveFile {
  private fd: number;
  extent: Extent;
  /** A rotation sealed the old file but the fresh one (here, under its temp name) is not in place yet. */
  private unnamed: string | null = null;
  private syncsInFlight = 0;
  private retired: number[] = [];

  /** Opens (or creates, with a header) the file at `path`, whose intact part holds `records` records. */
  constructor(
    readonly path: string,
    records: number,
  ) {
    this.fd = fileSystem.open(path, "a");
    try {
      let bytes = fileSystem.fstat(this.fd).size;
      if (bytes === 0) {
        writeFully(this.fd, [encodeFileHeader()]);
        bytes = FILE_HEADER_SIZE;
      }
      this.extent = { bytes, records };
    } catch (error) {
      closeQuietly(this.fd);
      throw error;
    }
  }

  get inode(): number {
    return fileSystem.fstat(this.fd).ino;
  }

  /**
   * What happened to the file under the writer, or null: it no longer has a name (deleted, or
   * another file renamed over it), or it is shorter than what was written to it (cut).
   */
  damage(): string | null {
    const file = fileSystem.fstat(this.fd);
    if (file.nlink === 0) return "was deleted or replaced";
    return file.size < this.extent.bytes ? `was cut from ${this.extent.bytes} to ${file.size} bytes` : null;
  }

  append(chunks: readonly Uint8Array[], added: Extent): void {
    writeFully(this.fd, chunks);
    this.extent = grow(this.extent, added);
  }

  /**
   * Cuts the file back to `extent` (dropping bytes of a failed write, or not confirmed by an
   * fsync); false if that failed: the file may then hold bytes past its extent until a later
   * `cutBack()` succeeds.
   */
  cutBack(extent: Extent = this.extent): boolean {
    this.extent = extent;
    try {
      fileSystem.ftruncate(this.fd, extent.bytes);
      return true;
    } catch {
      return false;
    }
  }

  sync(): void {
    fileSystem.fsync(this.fd);
  }

  /** fsync off the event loop; `done` runs once it returns. */
  syncAsync(done: (error: Error | null) => void): void {
    this.syncsInFlight++;
    fileSystem.fsyncAsync(this.fd, (error) => {
      if (--this.syncsInFlight === 0) for (const fd of this.retired.splice(0)) closeQuietly(fd);
      done(error);
    });
  }

  syncDirectory(): void {
    fsyncDirectory(dirname(this.path));
  }

  /** A fresh file beside this one holding a header and a SEGMENT record saying `info` (synced if `sync`). */
  prepare(info: SegmentInfo, sync: boolean): FreshFile {
    const temp = tempPathFor(this.path);
    const fd = fileSystem.open(temp, "ax");
    try {
      const chunks = [encodeFileHeader(), encodeSegmentRecord(info)];
      writeFully(fd, chunks);
      if (sync) fileSystem.fsync(fd);
      return { temp, fd, extent: { bytes: chunks[0]!.length + chunks[1]!.length, records: 1 } };
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
      if (statIfExists(sealedPath) !== null) throw new Error(`${sealedPath} already exists; a sealed segment is never overwritten`);
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
    if (this.unnamed !== null) fileSystem.remove(this.unnamed);
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

  /** Closes the file (after any fsync in flight) and, with `remove`, deletes it. */
  close(remove = false): void {
    this.retire(this.fd);
    if (!remove) return;
    fileSystem.remove(this.path);
    if (this.unnamed !== null) fileSystem.remove(this.unnamed);
  }

  private use(fresh: FreshFile): void {
    this.retire(this.fd);
    this.fd = fresh.fd;
    this.extent = fresh.extent;
  }

  private retire(fd: number): void {
    if (this.syncsInFlight > 0) this.retired.push(fd);
    else closeQuietly(fd);
  }
}

/** Closes and deletes a temp file that won't be used. */
export function discard(file: { readonly temp: string; readonly fd: number }): void {
  closeQuietly(file.fd);
  removeQuietly(file.temp);
}
