/**
 * Work over many elements spread across event-loop turns, so no turn is long: a round does
 * elements until `sliceMs` have passed, then yields (setImmediate) and goes on in a later turn,
 * with sockets and timers served in between.
 *
 * An element with more work than fits in a slice (a queue with a million expired items) says so
 * by returning false from `each`: it is handed to `each` again, in the next slice if this one is
 * spent.
 *
 * A round run for a client (a flush_expired, the queues a get makes) is paced by the server's
 * turn scheduler instead (`SlicePace`, turn_scheduler.ts `sharedTurns`): its slices end where the
 * turn's budget shared with every connection does and go on in the connection's next round, so
 * fifty clients' rounds take their turns instead of making each turn fifty slices long.
 *
 * Invariants: one round at a time (asking for another while one runs does nothing; the caller's
 * next tick starts a fresh one); `each` sees every element of the round until it returns
 * anything but false, unless the round is stopped; an element that throws is reported to
 * `onError` and the round goes on with the next; a round's `onDone`, if given, runs once, after
 * its last element (never for a round stopped before).
 */
import { turnClock } from "../clock.ts";

const DEFAULT_SLICE_MS = 2;

/** How a round's slices are timed: when one must end, and how the next is run in a later turn. */
export interface SlicePace {
  /** Until when (turn clock) a slice starting now may run, given the round's `sliceMs`. */
  until(sliceMs: number): number;
  /** Runs `slice` in a later turn; the function returned cancels that. */
  next(slice: () => void): () => void;
  /** Whether a round starting now may run its first slice at once (else it starts in a later turn). */
  startsNow(): boolean;
}

/** A round of its own: `sliceMs` per turn, the next slice after the turn's I/O (setImmediate). */
export const OWN_TURNS: SlicePace = {
  until: (sliceMs) => turnClock.now() + sliceMs,
  next: (slice) => {
    const scheduled = setImmediate(slice);
    return () => clearImmediate(scheduled);
  },
  startsNow: () => true,
};

export class SlicedRound<T> {
  private pending: Iterator<T> | null = null;
  /** The element `each` asked to see again, if any. */
  private unfinished: { readonly value: T } | null = null;
  /** Cancels the next slice, while one is scheduled. */
  private scheduled: (() => void) | null = null;
  private onDone: (() => void) | null = null;

  constructor(
    private readonly each: (element: T) => boolean | void,
    private readonly onError: (error: unknown, element: T) => void,
    private readonly sliceMs = DEFAULT_SLICE_MS,
    private readonly pace: SlicePace = OWN_TURNS,
  ) {}

  get running(): boolean {
    return this.pending !== null;
  }

  /**
   * Starts a round over `elements` (taken as they are now) unless one runs; false if one does.
   * `onDone` runs once the round is through.
   */
  start(elements: Iterable<T>, onDone: (() => void) | null = null): boolean {
    if (this.pending !== null) return false;
    this.pending = [...elements][Symbol.iterator]();
    this.onDone = onDone;
    if (this.pace.startsNow()) this.slice();
    else this.scheduled = this.pace.next(() => this.slice());
    return true;
  }

  /** Drops the rest of the round (the owner is closing). */
  stop(): void {
    this.scheduled?.();
    this.scheduled = null;
    this.pending = null;
    this.unfinished = null;
    this.onDone = null;
  }

  private slice(): void {
    this.scheduled = null;
    const pending = this.pending;
    if (pending === null) return;
    const until = this.pace.until(this.sliceMs);
    for (;;) {
      const element = this.unfinished ?? next(pending);
      if (element === null) break;
      this.unfinished = this.run(element.value) ? null : element;
      if (turnClock.now() >= until) {
        this.scheduled = this.pace.next(() => this.slice());
        return;
      }
    }
    this.pending = null;
    const onDone = this.onDone;
    this.onDone = null;
    onDone?.();
  }

  /** True when `element` is done for this round. */
  private run(element: T): boolean {
    try {
      return this.each(element) !== false;
    } catch (error) {
      this.onError(error, element);
      return true;
    }
  }
}

function next<T>(iterator: Iterator<T>): { readonly value: T } | null {
  const result = iterator.next();
  return result.done ? null : { value: result.value };
}
