/**
 * Clients blocked in `get <queue>/t=<ms>`, served strictly in arrival order.
 *
 * Each waiter is delivered exactly once: an item when one arrives, or null at its deadline (or
 * when the queue goes away). Cancelled and delivered waiters leave the list lazily, so every
 * operation is O(1) amortised.
 */
import type { Item } from "../journal/item.ts";
import { DeadlineTimer, type Deadline } from "./deadline_timer.ts";
import { Deque } from "./deque.ts";

/** One timer for the deadlines of every wait on every queue. */
const deadlines = new DeadlineTimer();

export type WaitMode = "remove" | "open" | "peek";

export interface Waiter {
  readonly mode: WaitMode;
  readonly deliver: (item: Item | null) => void;
  deadline: Deadline | null;
  live: boolean;
}

export class WaiterList {
  private readonly list = new Deque<Waiter>();
  private liveCount = 0;

  get size(): number {
    return this.liveCount;
  }

  add(mode: WaitMode, timeoutMs: number, deliver: (item: Item | null) => void): Waiter {
    const waiter: Waiter = { mode, deliver, deadline: null, live: true };
    waiter.deadline = deadlines.add(timeoutMs, () => {
      waiter.deadline = null;
      if (this.retire(waiter)) deliver(null);
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
    while (head !== undefined && !head.live) {
      this.list.shift();
      head = this.list.peek();
    }
    return head;
  }

  /** Removes `waiter` (which must be `first()`) and hands it `item`. */
  serve(waiter: Waiter, item: Item): void {
    if (this.retire(waiter)) waiter.deliver(item);
  }

  /** Ends every wait with null (the queue was deleted or the server is stopping). */
  releaseAll(): void {
    for (let waiter = this.first(); waiter !== undefined; waiter = this.first()) {
      this.list.shift();
      if (this.retire(waiter)) waiter.deliver(null);
    }
  }

  private retire(waiter: Waiter): boolean {
    if (!waiter.live) return false;
    waiter.live = false;
    this.liveCount--;
    if (waiter.deadline !== null) deadlines.cancel(waiter.deadline);
    waiter.deadline = null;
    return true;
  }
}
