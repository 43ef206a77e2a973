/**
 * Runs callbacks at deadlines with one timer for all of them (blocking gets come and go tens of
 * thousands of times a second; a timer each would cost more than the get).
 *
 * Deadlines are on a monotonic clock (see src/clock.ts): a wall clock set back or forward neither
 * stretches nor cuts a wait.
 *
 * A binary min-heap by deadline; cancelling only marks the entry, and the heap is rebuilt without
 * cancelled entries when they outnumber the live ones, so memory follows the live waits.
 *
 * Deadlines that come together fire over turns: a turn fires them, earliest first, until
 * FIRE_SLICE_MS of the turns' clock (src/clock.ts, read once per CHECK_EVERY fires) have passed,
 * and the rest go on in the next turn (setImmediate), so 5,000 blocked gets timing out at once
 * (5,000 END replies) are not one long turn (issue 9). A deadline fires at its time or later,
 * never earlier.
 *
 * A deadline whose callback throws (a bug) is logged and the others fire as usual: the one timer
 * serves every wait, and left disarmed by a throw it would fire none of them again.
 */
import { monotonicMs, turnClock, type Clock } from "../clock.ts";
import { runGuarded } from "../guarded.ts";

/** Time firing may take in one turn. */
export const FIRE_SLICE_MS = 2;
/** Fires between two looks at the turns' clock. */
export const CHECK_EVERY = 8;
/** What a deadline's bug is logged as. */
const FIRING = "firing a deadline";

export interface Deadline {
  /** When it fires, on the timer's clock. */
  readonly at: number;
  fire: (() => void) | null;
}

export class DeadlineTimer {
  private heap: Deadline[] = [];
  private live = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the timer fires; -Infinity while the rest of a slice's deadlines wait for the next turn. */
  private armedAt = Infinity;
  private nextSlice: ReturnType<typeof setImmediate> | null = null;

  /** `now`: the clock deadlines are on (read it to stamp times the deadlines are measured from). */
  constructor(readonly now: Clock = monotonicMs) {}

  /** Calls `fire` in `delayMs` unless cancelled first. */
  add(delayMs: number, fire: () => void): Deadline {
    const at = this.now() + delayMs;
    const entry: Deadline = { at, fire };
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
    this.live++;
    if (at < this.armedAt) this.arm(at);
    return entry;
  }

  cancel(entry: Deadline): void {
    if (entry.fire === null) return;
    entry.fire = null;
    this.live--;
    if (this.heap.length > 64 && this.heap.length > this.live * 2) this.rebuild();
  }

  private arm(at: number): void {
    this.disarm();
    this.armedAt = at;
    this.timer = setTimeout(() => this.fireDue(), Math.max(0, at - this.now()));
  }

  /**
   * Fires the deadlines that have come on the timer's clock, for a slice of this turn (the rest
   * in the next). The timer calls it itself; a test that gave the timer its own clock calls it
   * after moving that clock.
   */
  fireDue(): void {
    this.disarm();
    const now = this.now();
    const sliceEnd = turnClock.now() + FIRE_SLICE_MS;
    for (let fired = 0; this.heap.length > 0 && this.heap[0]!.at <= now; ) {
      const entry = this.pop();
      const fire = entry.fire;
      if (fire === null) continue;
      entry.fire = null;
      this.live--;
      runGuarded(FIRING, fire);
      if (++fired % CHECK_EVERY === 0 && this.heap.length > 0 && turnClock.now() >= sliceEnd) return this.fireInNextTurn();
    }
    while (this.heap.length > 0 && this.heap[0]!.fire === null) this.pop();
    if (this.heap.length > 0) this.arm(this.heap[0]!.at);
  }

  /** The slice is spent: the next turn fires on (whatever else is added meanwhile waits for it). */
  private fireInNextTurn(): void {
    this.armedAt = -Infinity;
    this.nextSlice = setImmediate(() => this.fireDue());
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.nextSlice !== null) clearImmediate(this.nextSlice);
    this.timer = null;
    this.nextSlice = null;
    this.armedAt = Infinity;
  }

  private rebuild(): void {
    this.heap = this.heap.filter((entry) => entry.fire !== null);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private pop(): Deadline {
    const top = this.heap[0]!;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = entry;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1]!.at < heap[child]!.at) child++;
      if (heap[child]!.at >= entry.at) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = entry;
  }
}
