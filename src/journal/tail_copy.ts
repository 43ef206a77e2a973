/**
 * The items a journal rebuild carries over from the old files into its pack: the items waiting on
 * disk (read-behind), read from the segments still there (and, for those whose records never
 * reached the active file, taken from the writer) and appended to the pack as ADD records, one
 * slice at a time.
 *
 * Invariants: never more than one slice (`maxBytes` of items, at least one item) is read into
 * memory or written at once (the items taken from the writer's kept records were in memory
 * already), so a rebuild can copy a slice per event-loop turn (RebuildTask) or all of them in one
 * call (rebuildJournal); the pack's extent and the tail's bookkeeping (where the first
 * copied ADD is, how many, their bytes and ids) always describe exactly the bytes written so far;
 * a write that fails throws and leaves the rest to the caller (who discards the temp file).
 */
import { grow, type Extent, type OrphanedFile } from "./active_file.ts";
import type { ActiveBound, AddReader } from "./add_reader.ts";
import { writeFully } from "./files.ts";
import { memoryCost, type Item } from "./item.ts";
import type { PendingAdd } from "./pending_adds.ts";
import { FILE_HEADER_SIZE } from "./record.ts";
import { RecordBatch } from "./record_batch.ts";
import type { DiskRegion } from "./replay_state.ts";
import type { SegmentList } from "./segment_list.ts";

/**
 * The item bytes one slice of the copy carries (read, encoded and written at once): 255 MiB on
 * disk took 0.3-0.6 ms a slice at the median, against 0.75-4.3 ms for 1 MiB slices, on a loaded
 * 2-core VM (docs/performance.md).
 */
export const CARRY_SLICE_BYTES = 256 * 1024;

/** The items a rebuild carries over from the old files, a slice of about `maxBytes` at a time; [] at the end. */
export type ItemSource = (maxBytes: number) => Item[];

/** Where the items carried over are in a pack: the first one's ADD record, how many, their bytes, their smallest and largest ids. */
export interface PackTail {
  readonly offset: number;
  readonly count: number;
  readonly bytes: number;
  readonly minId: number;
  readonly maxId: number;
}

/**
 * How the carry-over reads the active segment, up to the writer's intact bytes: by its name (still
 * the writer's file), through the writer's descriptor (`OrphanedFile`: the file was deleted or
 * replaced, but the writer holds it open, whole), or not at all (null: cut, or gone with nothing
 * holding it; what is at the active name now may be anything).
 */
export type ActiveSegment = "by name" | OrphanedFile | null;

/** What the carry-over reads with: the journal's segments and its reader, and what it knows of the active segment. */
export interface CarryOverParts {
  readonly segments: SegmentList;
  readonly reader: AddReader;
  readonly active: ActiveSegment;
  /** The writer's intact bytes of the active segment: nothing past them is read from the file. */
  readonly activeBytes: number;
  /** The ADDs the writer holds that never reached the file, at their offsets past `activeBytes` (JournalWriter.pendingAdds). */
  readonly pending: readonly PendingAdd[];
}

/**
 * The items waiting on disk from `region` on, a slice at a time: read from the segments still
 * there, the active one as `parts.active` says, then taken from the writer's records that never
 * reached the file (a segment that can't be read is skipped: its items are lost, and counted so).
 */
export function carryOver(parts: CarryOverParts, region: DiskRegion): ItemSource {
  const { segments, reader, active, pending } = parts;
  const activeSeq = segments.activeSeq;
  // Not even a read that started in an earlier segment goes on into an active file not read.
  const endSeq = active === null ? activeSeq : Infinity;
  const bound: ActiveBound | null = active === null ? null : { seq: activeSeq, bytes: parts.activeBytes, lent: active === "by name" ? null : active };
  // The pending ADDs of items waiting on disk: those from the region's start on.
  const from = region.start.seq === activeSeq ? region.start.offset : 0;
  let next = pending.findIndex((add) => add.offset >= from);
  if (next === -1) next = pending.length;
  let position = region.start;
  let left = region.count;
  let inFiles = true;
  const fromFiles = (maxBytes: number): Item[] => {
    while (inFiles && left > 0 && position.seq < endSeq) {
      try {
        const { items, next: after } = reader.read(position, left, maxBytes, endSeq, bound);
        position = after;
        left -= items.length;
        if (items.length > 0) return items;
        inFiles = false; // the end of what the files hold
      } catch {
        const after = segments.after(position.seq);
        if (after === null) inFiles = false;
        else position = { seq: after, offset: FILE_HEADER_SIZE };
      }
    }
    inFiles = false;
    return [];
  };
  return (maxBytes) => {
    const items = fromFiles(maxBytes);
    if (items.length > 0) return items;
    let bytes = 0;
    while (left > 0 && next < pending.length && (items.length === 0 || bytes < maxBytes)) {
      const item = pending[next++]!.item;
      items.push(item);
      bytes += memoryCost(item);
      left--;
    }
    return items;
  };
}

/** Appends what an ItemSource yields to a pack file open as `fd`, whose `extent` is written so far. */
export class TailCopy {
  private count = 0;
  private bytes = 0;
  private minId = Infinity;
  private maxId = 0;
  private readonly start: number;
  private done = false;

  constructor(
    private readonly fd: number,
    private written: Extent,
    private readonly source: ItemSource,
  ) {
    this.start = written.bytes;
  }

  /** The pack's bytes and records written so far. */
  get extent(): Extent {
    return this.written;
  }

  /** Where the items copied so far are in the pack, or null if none was. */
  get tail(): PackTail | null {
    return this.count === 0 ? null : { offset: this.start, count: this.count, bytes: this.bytes, minId: this.minId, maxId: this.maxId };
  }

  /** Copies the next slice of about `maxBytes`; returns whether more may follow (false once the source gave its last). Throws for I/O errors. */
  step(maxBytes: number): boolean {
    if (this.done) return false;
    const items = this.source(maxBytes);
    if (items.length === 0) {
      this.done = true;
      return false;
    }
    const batch = new RecordBatch();
    for (const item of items) {
      batch.addItem(item);
      this.bytes += item.data.length;
      this.minId = Math.min(this.minId, item.id);
      this.maxId = Math.max(this.maxId, item.id);
    }
    const slice = batch.take();
    writeFully(this.fd, slice.chunks);
    this.written = grow(this.written, { bytes: slice.size, records: slice.records });
    this.count += items.length;
    return true;
  }
}
