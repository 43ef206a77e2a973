/**
 * The open items of closed connections on their way back to their queues, every connection's in
 * one lane, so the aborts of one event-loop turn are bounded over all of them. A connection may
 * hold many (`max_open_transactions` 100,000: putting 300,000 back took 123-283 ms in one turn),
 * and many connections may close in one turn: when the bound was per connection, 300
 * connections holding 100 items each (one on each of 100 queues) gave back all 30,000 in the turn
 * they closed (238 ms of CPU), 100 holding 3,000 each 100,000 a turn (188 ms).
 *
 * Invariants: at most TURN_ITEMS items are looked at per turn, over every connection (the first
 * of them in the turn a connection closes, if the turn has any left); runs go back in the order
 * they were given, each oldest first (so a closed connection's newest item ends at the head, as
 * in Kestrel 2's cancelAll); while items wait they stay open, so nobody else can take them; one
 * that times out (open_transaction_timeout) or goes with its queue meanwhile is skipped (its
 * queue no longer holds it open).
 *
 * A part that throws going back (a bug) is logged and skipped, counted as looked at: what it had
 * not put back stays open on its queue (back at its open_transaction_timeout, if any, or at the
 * next start), and the lane goes on with the rest.
 */
import { runGuarded } from "../../guarded.ts";
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import { Deque } from "../../queue/deque.ts";
import { turnTask } from "../../turn_task.ts";

/** Open items given back per turn, over all closed connections (1-3 ms of aborts). */
export const TURN_ITEMS = 1000;
/** What a part's bug is logged as. */
const GIVING_BACK = "giving back a closed connection's open items";

/** Open items of one queue still to give back, from `next` on. */
interface ReturnRun {
  readonly queue: PersistentQueue;
  readonly items: readonly Item[];
  next: number;
}

export class PutBackLane {
  private readonly runs = new Deque<ReturnRun>();
  /** Items looked at in the current turn. */
  private spent = 0;
  /** The next turn: the count starts again and the runs go on. */
  private readonly nextTurn = turnTask("going on giving back closed connections' open items", () => {
    this.spent = 0;
    this.slice(Date.now());
  });

  /** Gives back `items` (open on `queue`, oldest first) after the runs given before them, as much as this turn has left now. */
  giveBack(queue: PersistentQueue, items: readonly Item[], now: number): void {
    this.runs.push({ queue, items, next: 0 });
    this.slice(now);
  }

  /** Aborts what this turn has left of TURN_ITEMS, in order; the rest waits for the next turn. */
  private slice(now: number): void {
    while (this.runs.length > 0 && this.spent < TURN_ITEMS) {
      const run = this.runs.peek()!;
      const end = Math.min(run.items.length, run.next + TURN_ITEMS - this.spent);
      const part = run.next === 0 && end === run.items.length ? run.items : run.items.slice(run.next, end);
      runGuarded(GIVING_BACK, () => run.queue.abortAll(part, now));
      this.spent += end - run.next;
      run.next = end;
      if (end === run.items.length) this.runs.shift();
    }
    if (this.spent > 0) this.nextTurn();
  }
}

/** The lane of every connection of the server. */
export const putBacks = new PutBackLane();
