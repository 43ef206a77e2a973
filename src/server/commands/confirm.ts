/**
 * `confirm`: confirms several of the connection's open items on a queue at once, the oldest
 * first, as Kestrel 2's KestrelHandler.closeReads does: all `count` of them, or none when the
 * connection holds fewer than `count` open there (ItemIdList.pop(count)) or `count` is below 1.
 * Usually what follows a `monitor`; with "all", every one (closeAllReads: what the text protocol
 * does before each fetch). Every server status allows it, as it does a `close`.
 *
 * A connection may hold 100,000 open items (max_open_transactions), and confirming them all was
 * one turn of 20-40 ms (a REMOVE record each), so the confirms are made a slice per turn, as
 * set_in_turns.ts adds items: a slice confirms until the connection's budget for the turn is
 * spent (connectionDeadline, at least one item a slice), the next slice runs in the connection's
 * next round (turn_scheduler.ts `later`), and meanwhile the session is suspended (its later
 * requests wait, their replies after this one). A confirm that fits in one slice (nearly every
 * one) is done before it returns, without suspending.
 *
 * Invariants: whether it confirms all or none is decided before the first slice, and the items
 * are taken off the connection's open reads and out of the queue's open set then (so nothing
 * else can settle them, and none times out while the slices run: the reply must not say
 * confirmed of an item open_transaction_timeout put back); their REMOVE records are written
 * oldest first, each once; `done` gets the commit of the last slice's
 * records, which covers every earlier one (a journal writes in order), so the reply waits for all
 * of them; it runs once, after the session is resumed (so what it starts may suspend it again). If
 * the connection closes between slices the confirming goes on to the end (the client asked for
 * all of them, and they are no longer its open reads to give back) and `done` never runs.
 */
import type { Commit } from "../../journal/commit.ts";
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import type { ServerContext } from "../context.ts";
import { connectionDeadline, later, turnClock } from "../turn_scheduler.ts";
import { unavailable, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";

/** What a confirm came to: the commit of its records, null if it confirmed none, or why it could not. */
export type ConfirmOutcome = Commit | null | Failure;

/**
 * Confirms `count` open items of `queueName` ("all": every one it holds), over turns if they are
 * many (see above), then calls `done` with the commit of their records (the reply waits for it),
 * null if it confirmed none, or a failure if the queue's journal can't record it (nothing
 * confirmed then).
 */
export function confirmReadsInTurns(session: Session, ctx: ServerContext, queueName: string, count: number | "all", done: (outcome: ConfirmOutcome) => void): void {
  const queue = ctx.queues.get(queueName);
  if (queue === undefined) return done(null);
  session.openReads.forgetTimedOut(queue);
  const held = session.openReads.count(queue);
  const confirming = count === "all" ? held : count;
  if (confirming < 1 || confirming > held) return done(null);
  if (queue.journalFailure !== null) return done(unavailable(queue.journalFailure));
  new ConfirmRun(queue, queue.takeToConfirm(session.openReads.takeOldest(queue, confirming)), session, done).slice();
}

class ConfirmRun {
  private next = 0;
  private suspended = false;
  /** The connection closed while suspended: the rest is confirmed, but no reply is made. */
  private cancelled = false;

  constructor(
    private readonly queue: PersistentQueue,
    private readonly items: readonly Item[],
    private readonly session: Session,
    private readonly done: (outcome: ConfirmOutcome) => void,
  ) {}

  /** Records confirmed items until the connection's budget for the turn is spent (at least one). */
  slice(): void {
    const until = connectionDeadline();
    const { queue, items } = this;
    while (this.next < items.length) {
      queue.recordConfirmed(items[this.next++]!);
      if (this.next < items.length && turnClock.now() >= until) return this.goOnLater();
    }
    if (this.cancelled) return;
    if (this.suspended) this.session.resume();
    this.done(queue.commit);
  }

  private goOnLater(): void {
    if (!this.suspended) this.session.suspend(() => (this.cancelled = true));
    this.suspended = true;
    later(() => this.session.continueSafely("continuing a confirm", () => this.slice()));
  }
}
