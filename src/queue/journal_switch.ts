/**
 * A reload turning one queue's journal on or off, over event-loop turns. Done in one go, a queue
 * of a million items on disk stopped the server for 1.2-1.5 s either way (issue 9).
 *
 * Turning it off (`TurningOff`): the queue keeps its journal, and everything it promised, until
 * every item is in memory: sets are still written to the journal and acknowledged once written,
 * takes are recorded, and the items waiting on disk are read into memory PART_BYTES at a time, for
 * up to SLICE_MS a turn (on the turns' clock, src/clock.ts), behind any set meanwhile (those go
 * to disk while items wait there, so FIFO order holds). Once none waits on disk, in the same step,
 * the queue drops the journal and its files are deleted, oldest first. A crash before then
 * replays the journal whole (every acknowledged item, nothing else: with journal = false the next
 * start reads it into memory and deletes it); a read that fails leaves the items on disk, in
 * order, and the switch waits for the queue's upkeep to try again (`resume`, about once a
 * second), as it does while the journal can't be written (the records it still holds can't be
 * read back); `done` then settles failed at once, saying so, rather than keep the reload's reply
 * waiting. While the journal is being rebuilt over turns (Journal.rebuildInTurns) nothing is read
 * back: the switch tries a part every REBUILD_LOOK_MS until the rebuild is in place (it read in
 * vain for its whole slice every turn, a busy loop for as long as a slow disk held the rebuild up).
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
 * A slice that throws (a bug) is logged and pauses the switch as a failed read does: the queue
 * keeps its journal, with every item, the reply says so, and the upkeep's retry goes on from there.
 *
 * Invariants: a queue has at most one switch under way; a switch off's slices never run after it
 * ended, nor while it waits for `resume`; a switch's `done` settles once.
 */
import { turnClock } from "../clock.ts";
import { logBug } from "../guarded.ts";
import { Commit } from "../journal/commit.ts";
import type { JournalFill } from "./journal_fill.ts";

/** Time one turn spends reading items in for a switch off. */
export const SLICE_MS = 3;
/** How often a switch off looks whether a journal rebuild under way is in place (it reads nothing in until then). */
export const REBUILD_LOOK_MS = 10;
/** Item bytes read in at a time (then the clock is looked at): about 650 items of 100 bytes, under a millisecond. */
export const PART_BYTES = 64 * 1024;
/** Record bytes a turn writes of a switch on's pack: about 950 items of 100 bytes, 1-2 ms. */
export const FILL_SLICE_BYTES = 128 * 1024;

/** What a switch off needs of its queue. */
export interface ReadIn {
  readonly name: string;
  readonly isDeleted: boolean;
  /** Why items on disk can't be read now, or null (ItemStore.readFailure). */
  readonly readFailure: string | null;
  /** Why the journal can't be written now, or null: the records it still holds can't be read in until it can. */
  readonly journalFailure: string | null;
  /** Its journal is being rebuilt over turns: nothing is read back until the rebuild is in place (ItemStore). */
  readonly journalRebuilding: boolean;
  /** Reads up to `maxBytes` of the items waiting on disk into memory; true while some still wait there. */
  readInPart(maxBytes: number): boolean;
  /** Every item is in memory: drops the journal and deletes its files. */
  dropJournal(): void;
}

export class TurningOff {
  readonly direction = "off";
  readonly done = new Commit();
  private immediate: ReturnType<typeof setImmediate> | null = null;
  /** The next look while the journal is being rebuilt (REBUILD_LOOK_MS on). */
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** A read failed, or the journal can't be written: waiting for `resume`. */
  private paused = false;
  /** Through or given up: no slice runs any more (`done` may have settled before, failed, at a pause). */
  private ended = false;

  constructor(private readonly queue: ReadIn) {}

  /** Reads in the first slice now (a queue with nothing on disk is through before this returns). */
  start(): void {
    this.slice();
  }

  /** After a pause: tries again now (the queue's upkeep calls it, after retrying the journal); nothing to do otherwise. */
  resume(): void {
    if (this.paused) this.slice();
  }

  /** Gives the switch up (the queue keeps its journal, or is gone): no slice runs after this. */
  cancel(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    if (this.timer !== null) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
    this.paused = false;
    this.ended = true;
    this.done.settle("durable");
  }

  /** A turn's slice, or the first, or a retry after a pause; a bug in it pauses the switch. */
  private slice(): void {
    this.immediate = null;
    this.timer = null;
    this.paused = false;
    if (this.ended) return;
    try {
      this.readIn();
    } catch (error) {
      this.pause(`internal error: ${logBug(`turning the journal of queue '${this.queue.name}' off`, error)}`);
    }
  }

  /** Reads in parts for up to SLICE_MS; then asks for the next turn, pauses, or drops the journal once none waits on disk. */
  private readIn(): void {
    if (this.queue.isDeleted) return this.cancel();
    const until = turnClock.now() + SLICE_MS;
    for (;;) {
      if (!this.queue.readInPart(PART_BYTES)) {
        this.ended = true;
        this.queue.dropJournal();
        this.done.settle("durable");
        return;
      }
      // A part left items on disk that can't be read now (reading again at once would only spin).
      const stuck = this.queue.readFailure ?? this.queue.journalFailure;
      if (stuck !== null) return this.pause(stuck);
      // A rebuild over turns reads nothing back until it is in place (its fsyncs may take long): look again in a while.
      if (this.queue.journalRebuilding) {
        this.timer = setTimeout(() => this.slice(), REBUILD_LOOK_MS);
        return;
      }
      if (turnClock.now() >= until) {
        this.immediate = setImmediate(() => this.slice());
        return;
      }
    }
  }

  /**
   * Items on disk can't be read in now (`why`): the switch waits for `resume`, and the reload's
   * reply, which would wait as long, says so now (the switch goes on: the log says when it is through).
   */
  private pause(why: string): void {
    this.paused = true;
    this.done.settle("failed", `queue '${this.queue.name}': reading its items into memory is held up (${why}); it keeps its journal, with every item, and tries again each second`);
  }
}

export class TurningOn {
  readonly direction = "on";
  readonly done = new Commit();
  readonly started = performance.now();

  constructor(readonly fill: JournalFill) {}
}

export type JournalSwitch = TurningOff | TurningOn;
