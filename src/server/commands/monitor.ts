/**
 * `monitor`: opens items from one queue as they come, for a time, as Kestrel 2's
 * KestrelHandler.monitorUntil does. Each item is an open read of the connection like one from
 * `get <queue>/open` (settled by `confirm`, `/close`, `/abort`, or returned when the connection
 * closes); each is handed to the front end as it is opened, so a client sees it at once.
 *
 * The monitor ends (`end`) before opening an item once any of these holds: `maxItems` were
 * opened; the deadline has come (so a monitor of 0 seconds opens nothing); the connection holds
 * the queue's max_open_transactions open there (those opened before count too); the server became
 * quiescent, or is stopping (it ended every wait and asked the connection to quit: a monitor going
 * on over turns must not wait afresh); the queue's journal can't be written or read; its items come to REPLY_BUDGET bytes
 * (a bound Kestrel does not have: at least one item is always handed out). While the queue is
 * empty it waits, as a blocking get does, in line with the other waiters, and the connection is
 * suspended until the end. The first check happens before anything is opened: a server that is
 * quiescent, or a queue that can't be written or read, refuses the monitor (`Failure`). On an
 * alias, with 0 items or no time to wait, it ends at once and creates no queue.
 *
 * A monitor of many items (max_open_transactions goes up to 100,000: one monitor of 100,000
 * 10-byte items was a turn of 236-260 ms) opens them a slice per turn: a slice opens items until
 * the connection's budget for the turn is spent (connectionDeadline, at least one item a slice),
 * and the next slice runs in the connection's next round (turn_scheduler.ts `later`), as
 * set_in_turns.ts does; meanwhile the session is suspended (its later requests wait) and each
 * slice's items are written out as they are opened. Each item's reply still waits for its open
 * record's commit, in order; `end` comes after the last item. If the connection closes between
 * slices the monitor stops: what it opened so far are the connection's open reads, which go back
 * to the queue with the others. An item whose reply throws (a bug) before it is placed goes back to
 * the queue at once: the client never sees it, so it is not left open on the connection for a
 * `confirm` to take; one placed before the bug goes out, and stays open like the others. Each
 * item's reply is a part of the monitor's (Outbox.pushPartAfter): a bug ends it with an error.
 */
import type { Commit } from "../../journal/commit.ts";
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import type { ServerContext } from "../context.ts";
import type { Handover } from "../outbox.ts";
import { connectionDeadline, later, turnClock } from "../turn_scheduler.ts";
import { isFailure, unavailable, type Failure } from "./failure.ts";
import { handedOver } from "./open_reads.ts";
import { queueNamed } from "./queue_commands.ts";
import { REPLY_BUDGET } from "./read_items.ts";
import type { Session } from "./session.ts";

/** What a monitor's work in later turns is called in a log line. */
const MONITOR = "continuing a monitor";

export interface MonitorEvents {
  /**
   * An item was opened for the monitor; its reply must wait for `commit` (its open record) and
   * carry `delivered` after the item's bytes (its open_transaction_timeout starts once they are out).
   */
  item(item: Item, commit: Commit, delivered: Handover): void;
  /** The monitor is over; called once, after the last `item`. */
  end(): void;
}

export interface MonitorRequest {
  readonly queue: string;
  /** When to stop waiting (monotonic ms, as `monotonicMs`). */
  readonly deadlineMs: number;
  /** How many items to open at most; null: the queue's max_open_transactions (Kestrel's default). */
  readonly maxItems: number | null;
}

/**
 * Starts a monitor; returns why it can't run (nothing happened then), or null: `events` then get
 * the items and the end, at once or later (the session is resumed after the end if it waited).
 */
export function startMonitor(request: MonitorRequest, session: Session, ctx: ServerContext, events: MonitorEvents, now: () => number): Failure | null {
  const refusal = ctx.status.readRefusal();
  if (refusal !== null) return unavailable(refusal);
  // Nothing to open, or an alias (it takes only sets): over before any read, so no queue is
  // created, as Kestrel's loop ends before its first queues.remove.
  if (request.maxItems === 0 || now() >= request.deadlineMs || ctx.queues.isAlias(request.queue)) {
    events.end();
    return null;
  }
  const queue = queueNamed(ctx, request.queue);
  if (isFailure(queue)) return queue;
  const failure = queue.journalFailure ?? queue.readFailure;
  if (failure !== null) return unavailable(failure);
  session.openReads.forgetTimedOut(queue);
  new MonitorRun(request, queue, session, ctx, events, now).continue();
  return null;
}

class MonitorRun {
  private opened = 0;
  private itemBytes = 0;
  /** The session was suspended (a wait, or a slice left for a later turn): it is resumed at the end. */
  private suspended = false;
  /** The connection closed while the monitor was suspended: nothing more is opened. */
  private cancelled = false;

  constructor(
    private readonly request: MonitorRequest,
    private readonly queue: PersistentQueue,
    private readonly session: Session,
    private readonly ctx: ServerContext,
    private readonly events: MonitorEvents,
    private readonly now: () => number,
  ) {}

  /**
   * Opens items while it may, until the connection's budget for the turn is spent (then the rest
   * in a later round); waits when the queue is empty; ends when a limit is reached.
   */
  continue(): void {
    if (this.cancelled) return;
    const until = connectionDeadline();
    while (this.mayOpen()) {
      const item = this.queue.open(Date.now());
      if (item === undefined) return this.wait();
      this.handOut(item);
      if (turnClock.now() >= until && this.mayOpen()) return this.goOnLater();
    }
    this.end();
  }

  private mayOpen(): boolean {
    return (
      this.opened < (this.request.maxItems ?? this.queue.settings.maxOpenTransactions) &&
      this.now() < this.request.deadlineMs &&
      this.session.openReads.count(this.queue) < this.queue.settings.maxOpenTransactions &&
      this.itemBytes < REPLY_BUDGET &&
      this.ctx.status.readRefusal() === null &&
      this.queue.journalFailure === null &&
      this.queue.readFailure === null &&
      !this.queue.isDeleted &&
      // The server is stopping (it ended every wait): the monitor ends with what it opened.
      !this.session.quitting
    );
  }

  private handOut(item: Item): void {
    this.ctx.stats.getHits++;
    this.opened++;
    this.itemBytes += item.data.length;
    this.session.openReads.add(this.queue, item);
    const placements = this.session.outbox.placements;
    try {
      this.events.item(item, this.queue.commit, handedOver(this.queue, item));
    } catch (error) {
      // A bug before its reply was placed: the client never sees the item, so it must not stay
      // open on the connection (a `confirm` would confirm it, gone); it goes back to the queue.
      // After: its reply goes out (the error ends the monitor's reply after it), so it stays open.
      const placed = this.session.outbox.placements !== placements;
      if (!placed && this.session.openReads.remove(this.queue, item)) this.queue.abort(item, Date.now());
      throw error;
    }
    if (this.suspended) this.session.replyReady();
  }

  /** The turn's budget is spent: the session waits, and the next slice runs in its next round. */
  private goOnLater(): void {
    this.suspend(() => (this.cancelled = true));
    later(() => this.session.continueSafely(MONITOR, () => this.continue()));
  }

  private wait(): void {
    const cancel = this.queue.wait("open", Math.max(1, this.request.deadlineMs - this.now()), (item) =>
      this.session.continueSafely(MONITOR, () => {
        if (item === null) {
          if (this.ctx.status.readRefusal() === null) this.ctx.stats.getMisses++;
          return this.end();
        }
        this.handOut(item);
        this.continue();
      }),
    );
    // The client may leave while this waits: the items opened so far are its open reads, which
    // go back when the connection closes.
    this.suspend(cancel);
  }

  private suspend(cancel: () => void): void {
    this.suspended = true;
    this.session.suspend(cancel);
  }

  private end(): void {
    this.events.end();
    if (this.suspended) this.session.resume();
  }
}
