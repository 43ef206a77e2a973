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
 *
 * Waking goes down the line while there are items: a waiter that takes one (remove, open) at
 * once; a peek waiter, which leaves the item for the next, within the turn's slice for peeks
 * (wake_lane.ts), the rest of the line in later turns. While the line waits for such a turn,
 * nothing else wakes it (so nothing overtakes in it), and a get that does not wait may take the
 * item meanwhile: the peek waiters left then see the next item, as Kestrel's would.
 */
import type { Item } from "../journal/item.ts";
import { DeadlineTimer, type Deadline } from "./deadline_timer.ts";
import { Deque } from "./deque.ts";
import { mayWakePeekWaiter, wakeLater } from "./wake_lane.ts";

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

/** Takes (or, for a peek, looks at) the item a waiter of `mode` gets at `now` (wall clock), if there is one. */
export type TakeFor = (mode: WaitMode, now: number) => Item | undefined;

export class WaiterList {
  private readonly list = new Deque<Waiter>();
  private liveCount = 0;
  /** The line waits for a later turn to wake more peek waiters (wake_lane.ts). */
  private wakeQueued = false;

  constructor(private readonly take: TakeFor) {}

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

  /** Hands items to the waiters in line while there are any, peek waiters a slice a turn. */
  wake(now: number): void {
    if (this.wakeQueued || this.wakeWithinSlice(now)) return;
    this.wakeQueued = true;
    wakeLater(this.wakeLater);
  }

  /** The lane's run: wakes on from where the last slice ended; true when through. */
  private readonly wakeLater = (): boolean => {
    this.wakeQueued = false; // a run that throws leaves the line to the next wake
    this.wakeQueued = !this.wakeWithinSlice(Date.now());
    return !this.wakeQueued;
  };

  /** Wakes waiters in line until no item is left for the first; false if a peek waiter has to wait for a later turn. */
  private wakeWithinSlice(now: number): boolean {
    for (let waiter = this.first(); waiter !== undefined; waiter = this.first()) {
      const item = this.take(waiter.mode, now);
      if (item === undefined) return true;
      if (waiter.mode === "peek" && !mayWakePeekWaiter()) return false;
      this.list.shift();
      this.retire(waiter)?.(item);
    }
    return true;
  }

  /** The longest-waiting live waiter, without removing it. */
  private first(): Waiter | undefined {
    let head = this.list.peek();
    while (head !== undefined && head.deliver === null) {
      this.list.shift();
      head = this.list.peek();
    }
    return head;
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
