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
 *
 * Releasing (the queue was deleted, the server became quiescent or is stopping) ends every wait
 * in line then with null, within the same turn's slice (wake_lane.ts), the rest in later turns:
 * those waits leave the line at once for a line of their own, so no item reaches them, and a
 * wait that comes after (the status went back to up) waits on as usual. One whose client left
 * meanwhile is skipped, one whose deadline came is answered once, by it. A queue that closes
 * (the server stops) ends every wait left at once (`releaseNow`).
 */
import type { Item } from "../journal/item.ts";
import { DeadlineTimer, type Deadline } from "./deadline_timer.ts";
import { Deque } from "./deque.ts";
import { LaneWork, mayWakeWaiter } from "./wake_lane.ts";

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

/** Releases at once, however long it takes (`releaseNow`). */
const always = (): boolean => true;

export class WaiterList {
  private list = new Deque<Waiter>();
  /** Waits being ended with null (`releaseAll`), in line; none of them is in `list`. */
  private released = new Deque<Waiter>();
  /** Live waits, in either line. */
  private liveCount = 0;
  /** Waking the line, a slice a turn (wake_lane.ts). */
  private readonly wakes = new LaneWork((now) => this.wakeWithinSlice(now));
  /** Ending the released waits, a slice a turn. */
  private readonly releases = new LaneWork(() => this.releaseWhile(mayWakeWaiter));

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
    this.wakes.run(now);
  }

  /** Wakes waiters in line until no item is left for the first; false if a peek waiter has to wait for a later turn. */
  private wakeWithinSlice(now: number): boolean {
    for (let waiter = this.first(); waiter !== undefined; waiter = this.first()) {
      const item = this.take(waiter.mode, now);
      if (item === undefined) return true;
      if (waiter.mode === "peek" && !mayWakeWaiter()) return false;
      this.list.shift();
      this.retire(waiter)?.(item);
    }
    return true;
  }

  /** The longest-waiting live waiter of `line`, without removing it. */
  private first(line = this.list): Waiter | undefined {
    let head = line.peek();
    while (head !== undefined && head.deliver === null) {
      line.shift();
      head = line.peek();
    }
    return head;
  }

  /**
   * Ends every wait in line now with null (the queue was deleted, or the server became quiescent
   * or is stopping), a slice a turn (see the header): waits that come after are not ended.
   */
  releaseAll(): void {
    this.takeLineToRelease();
    this.releases.run();
  }

  /** Ends every wait at once with null, those a release has yet to reach too (the queue is closing). */
  releaseNow(): void {
    this.takeLineToRelease();
    this.releaseWhile(always);
  }

  /** Moves the line behind the waits being released (a line waiting for its wakes' turn has none left to wake). */
  private takeLineToRelease(): void {
    if (this.released.length === 0) {
      [this.released, this.list] = [this.list, this.released];
      return;
    }
    for (let waiter = this.list.shift(); waiter !== undefined; waiter = this.list.shift()) this.released.push(waiter);
  }

  /** Ends released waits with null while `mayRelease` says so; true when none is left. */
  private releaseWhile(mayRelease: () => boolean): boolean {
    for (let waiter = this.first(this.released); waiter !== undefined; waiter = this.first(this.released)) {
      if (!mayRelease()) return false;
      this.released.shift();
      this.retire(waiter)?.(null);
    }
    return true;
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
