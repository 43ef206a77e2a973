/**
 * Reads items back from journal segments for read-behind: forward from a position, ADD records
 * only, in batches of whole chunks (never a syscall per item).
 *
 * Only intact records are returned. Damage found at this point (the disk changed under a running
 * server) is skipped to the next intact record and reported; start-up recovery deals with it
 * properly at the next start. Item data is copied out of the read buffer (into slabs), so every
 * reader shares one buffer (reads are synchronous), and a reader keeps its descriptor only while
 * in use (idle_files.ts): an idle queue costs neither. An ADD bigger than the buffer is read straight
 * into the item's own buffer (what the buffer holds of it copied, the rest read): one fresh
 * allocation per such item, its bytes touched once. First writes to fresh memory are what a big
 * read-back costs (~3.5 ms per MiB on a VM); an oversize buffer and a copy out of it cost three
 * times that (issue 9). Only what that can't read (a damaged record, an older format) is read
 * whole into an oversize buffer, for this read only. A rebuild reads the active segment only up
 * to its writer's intact bytes (`ActiveBound`), and, if the file was deleted under the writer,
 * through the writer's descriptor, which the reader never closes.
 */
import { viewOf } from "./binary.ts";
import { copyBytes } from "./byte_slab.ts";
import type { OrphanedFile } from "./active_file.ts";
import { closeQuietly, fileSystem, readFully } from "./files.ts";
import { forget, touch, type IdleClosable } from "./idle_files.ts";
import { memoryCost, type Item } from "./item.ts";
import { ADD_HEAD_SIZE, FILE_HEADER_SIZE, OP_ADD, RECORD_HEADER_SIZE, declaredRecordEnd, decodeAddApart, decodeRecordAt, findNextRecord } from "./record.ts";

export interface Position {
  readonly seq: number;
  readonly offset: number;
}

export interface SegmentLocator {
  /** The path of segment `seq`. */
  pathOf(seq: number): string;
  /** The segment after `seq`, or null if `seq` is the active one. */
  after(seq: number): number | null;
}

/**
 * How a read takes segment `seq` (the active one, for a rebuild): its first `bytes` only (the
 * writer's intact bytes), through `lent`'s descriptor if given (the file lost its name under its
 * writer: ActiveFile.orphaned), else by name.
 */
export interface ActiveBound {
  readonly seq: number;
  readonly bytes: number;
  readonly lent: OrphanedFile | null;
}

export interface ReadResult {
  readonly items: Item[];
  /** Where the next read starts. */
  readonly next: Position;
  /** Damage skipped on the way, if any (for the log). */
  readonly damage: string | null;
}

const CHUNK = 1024 * 1024;

/** The read buffer of every reader, allocated on first use. */
let shared: Uint8Array | null = null;

export class AddReader implements IdleClosable {
  private fd = -1;
  private fdSeq = -1;
  /** `fd` is an `ActiveBound`'s lent descriptor, not ours: never closed here. */
  private borrowed = false;
  /** A buffer bigger than `shared`, for one record that does not fit in it (this read only). */
  private oversize: Uint8Array | null = null;

  constructor(private readonly segments: SegmentLocator) {}

  /**
   * Reads ADDs from `from` until `maxItems` items or `maxBytes` of memory (each item's bytes and
   * its overhead, `memoryCost`), or the end of the journal, reading no segment from `endSeq` on,
   * and segment `bound.seq`, if given, as `bound` says.
   */
  read(from: Position, maxItems: number, maxBytes: number, endSeq = Infinity, bound: ActiveBound | null = null): ReadResult {
    const items: Item[] = [];
    let bytes = 0;
    let position = from;
    let damage: string | null = null;
    while (items.length < maxItems && bytes < maxBytes && position.seq < endSeq) {
      let size: number;
      try {
        size = this.open(position.seq, bound);
      } catch (error) {
        // A segment that can't be opened: what was read before it is returned first.
        if (items.length > 0) break;
        throw error;
      }
      if (position.offset >= size) {
        const next = this.segments.after(position.seq);
        if (next === null) break;
        position = { seq: next, offset: FILE_HEADER_SIZE };
        continue;
      }
      const chunk = this.load(position.offset, size);
      const view = viewOf(chunk);
      const fileLeft = size - position.offset;
      let offset = 0;
      let needMore = 0;
      while (offset < chunk.length && items.length < maxItems && bytes < maxBytes) {
        const end = declaredRecordEnd(chunk, view, offset);
        const headerCut = end === null && chunk.length - offset < RECORD_HEADER_SIZE && chunk.length < fileLeft;
        const recordCut = end !== null && end > chunk.length && end <= fileLeft;
        if (recordCut && end - offset > CHUNK) {
          const item = this.readAddApart(chunk, view, offset, end - offset, position.offset + offset);
          if (item !== null) {
            items.push(item);
            bytes += memoryCost(item);
            offset = end;
            continue;
          }
        }
        if (headerCut || recordCut) {
          needMore = recordCut ? end - offset : RECORD_HEADER_SIZE;
          break;
        }
        const decoded = decodeRecordAt(chunk, view, offset);
        if (decoded === null) {
          damage ??= `damaged bytes at offset ${position.offset + offset} of segment ${position.seq}`;
          const next = findNextRecord(chunk, view, offset + 1);
          // Not found here: go on past this chunk, keeping room for a header cut at its end.
          offset = next !== -1 ? next : chunk.length < fileLeft ? Math.max(offset + 1, chunk.length - RECORD_HEADER_SIZE) : fileLeft;
          continue;
        }
        if (decoded.record.op === OP_ADD) {
          const item = decoded.record.item;
          items.push({ ...item, data: copyBytes(item.data) });
          bytes += memoryCost(item);
        }
        offset = decoded.end;
      }
      if (offset === 0 && needMore > CHUNK) this.oversize = new Uint8Array(needMore);
      position = { seq: position.seq, offset: position.offset + Math.min(offset, fileLeft) };
    }
    this.oversize = null;
    return { items, next: position, damage };
  }

  close(): void {
    forget(this);
    if (this.fd >= 0 && !this.borrowed) closeQuietly(this.fd);
    this.fd = -1;
    this.fdSeq = -1;
    this.borrowed = false;
  }

  closeIfIdle(): boolean {
    this.close();
    return true;
  }

  /**
   * Opens segment `seq` (if not already, the same way) and returns its current size, as `bound`
   * says if it is that segment (at most `bound.bytes`; through its lent descriptor, if any: throws
   * if that is no longer the file).
   */
  private open(seq: number, bound: ActiveBound | null): number {
    const limit = bound !== null && bound.seq === seq ? bound : null;
    const lent = limit?.lent ?? null;
    if (this.fdSeq !== seq || this.borrowed !== (lent !== null)) {
      this.close();
      this.fd = lent !== null ? lent.fd : fileSystem.open(this.segments.pathOf(seq), "r");
      this.fdSeq = seq;
      this.borrowed = lent !== null;
    }
    touch(this);
    const file = fileSystem.fstat(this.fd);
    if (lent !== null && (file.dev !== lent.dev || file.ino !== lent.ino)) throw new Error(`segment ${seq}: the descriptor it was read through is no longer its file`);
    return limit === null ? file.size : Math.min(file.size, limit.bytes);
  }

  /**
   * The item of the ADD record of `length` bytes at `chunk[offset]` (at `at` in the file), which
   * goes past the chunk, its bytes in a buffer of their own: what the chunk holds of them copied,
   * the rest read into place. Null if its head is not in the chunk, it is no ADD of today's format,
   * or it is not intact: then it is read whole (the caller's way).
   */
  private readAddApart(chunk: Uint8Array, view: DataView, offset: number, length: number, at: number): Item | null {
    if (offset + ADD_HEAD_SIZE > chunk.length || chunk[offset + 5] !== OP_ADD) return null;
    const data = new Uint8Array(length - ADD_HEAD_SIZE);
    const held = chunk.subarray(offset + ADD_HEAD_SIZE);
    data.set(held);
    const rest = readFully(this.fd, data.subarray(held.length), data.length - held.length, at + ADD_HEAD_SIZE + held.length);
    if (held.length + rest.length < data.length) return null;
    return decodeAddApart(chunk, view, offset, data);
  }

  private load(offset: number, size: number): Uint8Array {
    const buffer = this.oversize ?? (shared ??= new Uint8Array(CHUNK));
    return readFully(this.fd, buffer, Math.min(buffer.length, size - offset), offset);
  }
}
