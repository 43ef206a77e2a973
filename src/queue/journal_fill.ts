/**
 * The records of a journal a reload turned on, read from the queue as they are written: the pack
 * (journal/pack.ts, written a slice per turn by Journal.fill) that holds the items the queue had
 * before it had a journal. Writing a million items at once stopped the server for 1.2-1.5 s and
 * took 540 MiB; as a PackSource the queue is read a slice at a time and nothing is copied.
 *
 * The journal is attached when the fill starts (T0): every change from then on is appended to its
 * active segment, and the pack replaces the (empty) segment sealed at T0, so replay reads the
 * pack first, then the records since. The pack holds the queue at T0: the open items (ADD, OPEN),
 * then the items put back at the head and those being moved by expiry (PUT_BACK, last first), as
 * a compaction lays them out, all copied at T0 (few, as a rule); then the run, the items in memory
 * in growing id order, read from the queue slice by slice (ADD): those with ids below
 * `boundary` (the next id at T0; later items have records of their own) above the last one
 * written. A run item taken for good before the fill reached it is simply not written: the
 * REMOVE that follows in the active segment names an id replay doesn't know, and ignores (so
 * the pack is committed only once the records appended meanwhile are on disk, Journal.fill: a
 * crash must not lose an item whose REMOVE was not). One that leaves the run but stays live
 * (opened, or moved by expiry) first is `cover`ed: written at once as a PUT_BACK (replay keeps it
 * in memory; the OPEN or REMOVE after it finds it there), so every record after T0 that names an
 * item finds it.
 *
 * Invariants: every item written has an id below `boundary` and is written once; an item live at
 * T0 and still live when the fill is through is in the pack (the run's by id order, the others
 * by the copy or `cover`); ADD records are in growing id order (replay's read-behind relies on
 * it). A crash before the pack is committed replays the records since T0 alone: the items set
 * since (acknowledged once written) and nothing else (the ones from before T0 were in memory only,
 * as the config then said); after, the pack and those records: the queue.
 */
import type { Item } from "../journal/item.ts";
import type { PackSource } from "../journal/pack.ts";
import { OP_OPEN, OP_PUT_BACK } from "../journal/record.ts";
import type { RecordBatch } from "../journal/record_batch.ts";

/** Reads the queue's run: items with ids in (afterId, belowId), in order, about `maxBytes` of them (ItemStore.runItems). */
export type RunReader = (afterId: number, belowId: number, maxBytes: number) => Item[];

export class JournalFill implements PackSource {
  maxId = 0;
  /** Items written so far (for the log). */
  written = 0;
  /** Records of `open` and `queued` written so far (an open item's two count as one). */
  private copied = 0;
  /** The id of the last run item written (every run item left with a smaller id is written or gone). */
  private lastRunId = -Infinity;
  /** Ids of `open` and `queued`: never covered (they are written from the copy). */
  private readonly copiedIds: ReadonlySet<number>;
  /** Ids covered so far (an item opened, aborted and opened again is covered once). */
  private readonly covered = new Set<number>();
  /** Items covered and not written yet, from `pendingNext` on. */
  private pending: Item[] = [];
  private pendingNext = 0;
  private through = false;

  constructor(
    /** The open items at T0, oldest first. */
    private readonly open: readonly Item[],
    /** The items moving by expiry and those put back at the head at T0, in queue order. */
    private readonly queued: readonly Item[],
    /** The next id at T0: items from it on have records of their own. */
    private readonly boundary: number,
    private readonly run: RunReader,
  ) {
    this.copiedIds = new Set([...open, ...queued].map((item) => item.id));
  }

  /** Every record is written (the source is through). */
  get done(): boolean {
    return this.through;
  }

  /**
   * `item` is leaving the queue's memory but stays live (opened, or moved by expiry): if it is a
   * run item not written yet, it is written next, as a PUT_BACK. Call it before the record that
   * names it is appended.
   */
  cover(item: Item): void {
    const id = item.id;
    if (this.through || id >= this.boundary || id <= this.lastRunId || this.copiedIds.has(id) || this.covered.has(id)) return;
    this.covered.add(id);
    this.pending.push(item);
  }

  fill(batch: RecordBatch, maxBytes: number): boolean {
    const copies = this.open.length + this.queued.length;
    for (; this.copied < copies && batch.size < maxBytes; this.copied++) {
      if (this.copied < this.open.length) {
        const item = this.open[this.copied]!;
        this.add(batch, item);
        batch.addId(OP_OPEN, item.id);
      } else {
        // The head last: replay puts each at the head.
        this.add(batch, this.queued[copies - 1 - this.copied]!, OP_PUT_BACK);
      }
    }
    if (this.copied < copies) return true;
    for (; this.pendingNext < this.pending.length && batch.size < maxBytes; this.pendingNext++) this.add(batch, this.pending[this.pendingNext]!, OP_PUT_BACK);
    if (this.pendingNext < this.pending.length) return true;
    this.pending = [];
    this.pendingNext = 0;
    while (batch.size < maxBytes) {
      const items = this.run(this.lastRunId, this.boundary, maxBytes - batch.size);
      if (items.length === 0) {
        this.through = true;
        return false;
      }
      for (const item of items) this.add(batch, item);
      this.lastRunId = items.at(-1)!.id;
    }
    return true;
  }

  private add(batch: RecordBatch, item: Item, op?: typeof OP_PUT_BACK): void {
    batch.addItem(item, op);
    if (item.id > this.maxId) this.maxId = item.id;
    this.written++;
  }
}
