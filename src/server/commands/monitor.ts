/**
 * `monitor`: opens items from one queue as they come, for a time, as Kestrel 2's
 * KestrelHandler.monitorUntil does. Each item is an open read of the connection like one from
 * `get <queue>/open` (settled by `confirm`, `/close`, `/abort`, or returned when the connection
 * closes); each is handed to the front end as it is opened, so a client sees it at once.
 *
 * The monitor ends (`end`) before opening an item once any of these holds: `maxItems` were
 * opened; the deadline has come (so a monitor of 0 seconds opens nothing); the connection holds
 * the queue's max_open_transactions open there (those opened before count too); the server became
 * quiescent; the queue's journal can't be written or read; its items come to REPLY_BUDGET bytes
 * (a bound Kestrel does not have: at least one item is always handed out). While the queue is
 * empty it waits, as a blocking get does, in line with the other waiters, and the connection is
 * suspended until the end. The first check happens before anything is opened: a server that is
 * quiescent, or a queue that can't be written or read, refuses the monitor (`Failure`).
 */
import type { Commit } from "../../journal/commit.ts";
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import type { ServerContext } from "../context.ts";
import { isFailure, unavailable, type Failure } from "./failure.ts";
import { queueNamed } from "./queue_commands.ts";
import { REPLY_BUDGET } from "./read_items.ts";
import type { Session } from "./session.ts";

export interface MonitorEvents {
  /** An item was opened for the monitor; its reply must wait for `commit` (its open record). */
  item(item: Item, commit: Commit): void;
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
  private waited = false;

  constructor(
    private readonly request: MonitorRequest,
    private readonly queue: PersistentQueue,
    private readonly session: Session,
    private readonly ctx: ServerContext,
    private readonly events: MonitorEvents,
    private readonly now: () => number,
  ) {}

  /** Opens items while it may; waits when the queue is empty; ends when a limit is reached. */
  continue(): void {
    while (this.mayOpen()) {
      const item = this.queue.open(Date.now());
      if (item === undefined) return this.wait();
      this.handOut(item);
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
      !this.queue.isDeleted
    );
  }

  private handOut(item: Item): void {
    this.ctx.stats.getHits++;
    this.opened++;
    this.itemBytes += item.data.length;
    this.session.openReads.add(this.queue, item);
    this.events.item(item, this.queue.commit);
    if (this.waited) this.session.replyReady();
  }

  private wait(): void {
    const cancel = this.queue.wait("open", Math.max(1, this.request.deadlineMs - this.now()), (item) => {
      if (item === null) {
        if (this.ctx.status.readRefusal() === null) this.ctx.stats.getMisses++;
        return this.end();
      }
      this.handOut(item);
      this.continue();
    });
    this.waited = true;
    // The client may leave while this waits: the items opened so far are its open reads, which
    // go back when the connection closes.
    this.session.suspend(cancel);
  }

  private end(): void {
    this.events.end();
    if (this.waited) this.session.resume();
  }
}
