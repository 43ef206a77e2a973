/**
 * Clients blocked in `get <queue>/t=<ms>`, served strictly in arrival order.
 *
 * Each waiter is delivered exactly once: an item when one arrives, or null at its deadline (or
 * when the queue goes away). A waiter that is done (delivered, timed out or cancelled) lets go of
 * its callback at once, and the list drops such entries whenever they outnumber the live ones, so
 * memory follows the live waits: gets that time out on a queue no item ever comes to leave
 * nothing behind. Every operation is O(1) amortised.
 *
 * A connection has at most one waiter: a blocking get suspends it, and a get of several keys
 * waits on them one after another.
 */
import type { Item } from "../journal/item.ts";
import { DeadlineTimer, type Deadline } from "./deadline_timer.ts";
import { Deque } from "./deque.ts";

/** One timer for the deadlines of every wait on every queue. */
const deadlines = new DeadlineTimer();

/** Entries kept however many are done: below this the list is not worth compacting. */
const COMPACT_ABOVE = 64;

export type WaitMode = "remove" | "open" | "peek";

export interface Waiter {
  readonly mode: WaitMode;
  /** Who gets the item (or null); null once the waiter is done. */
  deliver: ((item: Item | null) => void) | null;
  deadline: Deadline | null;
}

export class WaiterList {
  private readonly list = new Deque<Waiter>();
  private liveCount = 0;

  get size(): number {
    return this.liveCount;
  }

  add(mode: WaitMode, timeoutMs: number, deliver: (item: Item | null) => void): Waiter {
    const waiter: Waiter = { mode, deliver, deadline: null };
    waiter.deadline = deadlines.add(timeoutMs, () => {
      waiter.deadline = null;
      this.retire(waiter)?.(null);
    });
    this.list.push(waiter);
    this.liveCount++;
    return waiter;
  }

  /** Drops a waiter without delivering anything (its client went away). */
  cancel(waiter: Waiter): void {
    this.retire(waiter);
  }

  /** The longest-waiting live waiter, without removing it. */
  first(): Waiter | undefined {
    let head = this.list.peek();
    while (head !== undefined && head.deliver === null) {
      this.list.shift();
      head = this.list.peek();
    }
    return head;
  }

  /** Removes `waiter` (which must be `first()`) and hands it `item`. */
  serve(waiter: Waiter, item: Item): void {
    this.retire(waiter)?.(item);
  }

  /** Ends every wait with null (the queue was deleted, or the server is stopping or became quiescent). */
  releaseAll(): void {
    for (let waiter = this.first(); waiter !== undefined; waiter = this.first()) {
      this.list.shift();
      this.retire(waiter)?.(null);
    }
  }

  /** Marks `waiter` done; returns its callback, or null if it was done already. */
  private retire(waiter: Waiter): ((item: Item | null) => void) | null {
    const deliver = waiter.deliver;
    if (deliver === null) return null;
    waiter.deliver = null;
    this.liveCount--;
    if (waiter.deadline !== null) deadlines.cancel(waiter.deadline);
    waiter.deadline = null;
    if (this.list.length > COMPACT_ABOVE && this.list.length > 2 * this.liveCount) this.list.retain((entry) => entry.deliver !== null);
    return deliver;
  }
}
