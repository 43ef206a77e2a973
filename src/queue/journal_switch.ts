/**
 * A reload turning one queue's journal on or off, over event-loop turns. Done in one go, a queue
 * of a million items on disk stopped the server for 1.2-1.5 s either way (issue 9).
 *
 * Turning it off (`TurningOff`): the queue keeps its journal, and everything it promised, until
 * every item is in memory: sets are still written to the journal and acknowledged once written,
 * takes are recorded, and the items waiting on disk are read into memory PART_BYTES at a time, for
 * up to SLICE_MS a turn (switchClock), behind any set meanwhile (those go to disk while items wait
 * there, so FIFO order holds). Once none waits on disk, in the same step, the queue drops the
 * journal and its files are deleted, oldest first. A crash before then replays the journal
 * whole (every acknowledged item, nothing else: with journal = false the next start reads it
 * into memory and deletes it); a read that fails leaves the items on disk, in order, and the
 * switch waits for the queue's upkeep to try again (`resume`, about once a second).
 *
 * Turning it on (`TurningOn`): the new journal is attached at once, so every change from then on
 * is written to it and a set is acknowledged once its record is written, and the items the queue
 * held are written to it as one pack, a slice per turn (journal_fill.ts, Journal.fill); they are
 * on disk once the pack is committed (written, fsynced, renamed into place). A crash before that
 * replays what came after the switch began (the older items were in memory only, as the config
 * until then said); after, everything.
 *
 * `done` settles once the switch is through (durable), or failed (a pack that could not be
 * written: the journal is rebuilt from the queue at the next upkeep); a switch given up (the queue
 * deleted, or a later reload turning the journal back) settles it durable. The `reload` reply
 * waits for it. A fill given up by a switch off leaves the journal without the items it had not
 * written: if a reload keeps the journal after all, its reply fails saying so and the next upkeep
 * rebuilds the journal (PersistentQueue.keepJournal).
 *
 * Invariants: a queue has at most one switch under way; a switch off's slices never run after it
 * ended; a switch's `done` settles once.
 */
import { Commit } from "../journal/commit.ts";
import type { JournalFill } from "./journal_fill.ts";

/** The clock a switch's slices are measured with (a test may set `now` to one it steps itself). */
export const switchClock = { now: (): number => performance.now() };

/** Time one turn spends reading items in for a switch off. */
export const SLICE_MS = 3;
/** Item bytes read in at a time (then the clock is looked at): about 650 items of 100 bytes, under a millisecond. */
export const PART_BYTES = 64 * 1024;
/** Record bytes a turn writes of a switch on's pack: about 950 items of 100 bytes, 1-2 ms. */
export const FILL_SLICE_BYTES = 128 * 1024;

/** What a switch off needs of its queue. */
export interface ReadIn {
  readonly isDeleted: boolean;
  /** Why items on disk can't be read now, or null (ItemStore.readFailure). */
  readonly readFailure: string | null;
  /** Reads up to `maxBytes` of the items waiting on disk into memory; true while some still wait there. */
  readInPart(maxBytes: number): boolean;
  /** Every item is in memory: drops the journal and deletes its files. */
  dropJournal(): void;
}

export class TurningOff {
  readonly direction = "off";
  readonly done = new Commit();
  private immediate: ReturnType<typeof setImmediate> | null = null;
  /** A read failed: waiting for `resume`. */
  private paused = false;

  constructor(private readonly queue: ReadIn) {}

  /** Reads in the first slice now (a queue with nothing on disk is through before this returns). */
  start(): void {
    this.slice();
  }

  /** After a read failed: tries again now (the queue's upkeep calls it); nothing to do otherwise. */
  resume(): void {
    if (this.paused) this.slice();
  }

  /** Gives the switch up (the queue keeps its journal, or is gone): no slice runs after this. */
  cancel(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.paused = false;
    this.done.settle("durable");
  }

  private slice(): void {
    this.immediate = null;
    this.paused = false;
    if (this.done.state !== "pending") return;
    if (this.queue.isDeleted) return this.cancel();
    const until = switchClock.now() + SLICE_MS;
    for (;;) {
      if (!this.queue.readInPart(PART_BYTES)) {
        this.queue.dropJournal();
        this.done.settle("durable");
        return;
      }
      if (this.queue.readFailure !== null) {
        this.paused = true;
        return;
      }
      if (switchClock.now() >= until) {
        this.immediate = setImmediate(() => this.slice());
        return;
      }
    }
  }
}

export class TurningOn {
  readonly direction = "on";
  readonly done = new Commit();
  readonly started = performance.now();

  constructor(readonly fill: JournalFill) {}
}

export type JournalSwitch = TurningOff | TurningOn;
