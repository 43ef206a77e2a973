/**
 * Batches journal writes per event-loop turn: group commit.
 *
 * A writer with unwritten records registers itself here; they are written once the turn's I/O
 * callbacks have run (setImmediate), so the records of every connection served in one turn go
 * out in one write per journal, and the replies waiting on them are released together. A turn
 * writes journals until TURN_BYTES went out or TURN_MS passed (looked at between journals and
 * between a journal's 1 MiB writes: one slow disk write no longer runs a turn to 20 ms), and leaves the rest to the next
 * turn: a 64 MiB item set to a parent with 10 fanout children is written over 88 turns (a writer
 * may stop inside a batch: writer.ts), with other clients served in between, instead of 704 MiB
 * in one; so are the first writes of 1,000 new queues (each creates its file). `flushJournals`
 * writes everything at once (shutdown, tests). The fsyncs the written batches ask for go out at
 * the end of the turn's writing, together (grouped_fsync.ts).
 *
 * A journal whose flush throws (a bug: a write's I/O errors are the writer's own failures, never
 * thrown) is logged once and costs only itself: the journals after it are written in the same
 * turn, and the turn's flush is asked for again as usual. That journal may be left midway through
 * a batch, with bytes in its file that memory doesn't know of, so it is told (`flushBroke`) and
 * fails as after a failed write: the queue refuses sets and gets, the records not known to be in
 * the file wait, with the replies waiting on them, for the upkeep's retry (once a second), which
 * cuts the file back to its last intact record and writes them again.
 */
import { runGuardedWith } from "../guarded.ts";
import { turnTask } from "../turn_task.ts";
import { collectFsyncs } from "./grouped_fsync.ts";

export interface Flushable {
  /**
   * Writes what is pending until `budget` bytes went out or `until` (performance.now()) passed,
   * writing something in any case; returns the bytes written. One that stops with records left
   * marks itself dirty again.
   */
  flushUpTo(budget: number, until: number): number;
  /** A bug (`reason`) stopped `flushUpTo` midway: the journal fails until its retry mends the file. */
  flushBroke(reason: string): void;
}

/** Bytes a turn writes before the journals left wait for the next turn... */
const TURN_BYTES = 8 * 1024 * 1024;
/** ...and the time it spends writing. */
const TURN_MS = 3;
/** What a journal's bug in its flush is logged as. */
const WRITING = "writing a journal";

const dirty = new Set<Flushable>();
/** The turn's flush, once the turn's I/O callbacks have run. */
const schedule = turnTask("writing a turn's journals", () => flush(TURN_BYTES, performance.now() + TURN_MS));

export function markDirty(writer: Flushable): void {
  dirty.add(writer);
  schedule();
}

/** Writes every journal's pending records now. */
export function flushJournals(): void {
  flush(Infinity, Infinity);
}

function flush(budget: number, until: number): void {
  // The fsyncs the batches written ask for (sync_journal = always) go out together at the end.
  collectFsyncs(() => writeJournals(budget, until));
}

function writeJournals(budget: number, until: number): void {
  // The set itself is the queue, in order: a writer leaves it as it is flushed, and one made dirty
  // meanwhile (or again, with records left) joins at the back. Nothing is copied, so a turn costs
  // what it writes, not what waits (5,000 new queues wait many turns for their first write).
  // At most the writers dirty when the turn began are flushed: one that keeps marking itself
  // dirty can't hold the turn.
  let left = dirty.size;
  const turn = new TurnWriting(budget, until);
  let first = true;
  for (const writer of dirty) {
    if (left-- === 0) break;
    if (turn.budget <= 0 || (!first && performance.now() >= until)) {
      schedule();
      return;
    }
    first = false;
    dirty.delete(writer);
    runGuardedWith(WRITING, turn.write, writer, flushBroke);
  }
}

/** One flush's writing: the bytes it may still write, and until when (one made per flush, none per journal). */
class TurnWriting {
  constructor(
    public budget: number,
    private readonly until: number,
  ) {}

  /** Flushes `writer` with what is left of the budget. */
  readonly write = (writer: Flushable): void => {
    this.budget -= writer.flushUpTo(this.budget, this.until);
  };
}

function flushBroke(writer: Flushable, reason: string): void {
  writer.flushBroke(reason);
}
