/**
 * Work over many elements spread across event-loop turns, so no turn is long: a round does
 * elements until `sliceMs` have passed, then yields (setImmediate) and goes on in a later turn,
 * with sockets and timers served in between.
 *
 * An element with more work than fits in a slice (a queue with a million expired items) says so
 * by returning false from `each`: it is handed to `each` again, in the next slice if this one is
 * spent.
 *
 * Invariants: one round at a time (asking for another while one runs does nothing; the caller's
 * next tick starts a fresh one); `each` sees every element of the round until it returns
 * anything but false, unless the round is stopped; an element that throws is reported to
 * `onError` and the round goes on with the next; a round's `onDone`, if given, runs once, after
 * its last element (never for a round stopped before).
 */
import { turnClock } from "../clock.ts";

const DEFAULT_SLICE_MS = 2;

export class SlicedRound<T> {
  private pending: Iterator<T> | null = null;
  /** The element `each` asked to see again, if any. */
  private unfinished: { readonly value: T } | null = null;
  private scheduled: ReturnType<typeof setImmediate> | null = null;
  private onDone: (() => void) | null = null;

  constructor(
    private readonly each: (element: T) => boolean | void,
    private readonly onError: (error: unknown, element: T) => void,
    private readonly sliceMs = DEFAULT_SLICE_MS,
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
    this.slice();
    return true;
  }

  /** Drops the rest of the round (the owner is closing). */
  stop(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.pending = null;
    this.unfinished = null;
    this.onDone = null;
  }

  private slice(): void {
    this.scheduled = null;
    const pending = this.pending;
    if (pending === null) return;
    const until = turnClock.now() + this.sliceMs;
    for (;;) {
      const element = this.unfinished ?? next(pending);
      if (element === null) break;
      this.unfinished = this.run(element.value) ? null : element;
      if (turnClock.now() >= until) {
        this.scheduled = setImmediate(() => this.slice());
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
