/**
 * Work over many elements spread across event-loop turns, so no turn is long: a round does
 * elements until `sliceMs` have passed, then yields (setImmediate) and goes on in a later turn,
 * with sockets and timers served in between.
 *
 * Invariants: one round at a time (asking for another while one runs does nothing; the caller's
 * next tick starts a fresh one); `each` sees every element of the round exactly once, unless the
 * round is stopped; an element that throws is reported to `onError` and the round goes on.
 */

const DEFAULT_SLICE_MS = 5;

export class SlicedRound<T> {
  private pending: Iterator<T> | null = null;
  private scheduled: ReturnType<typeof setImmediate> | null = null;

  constructor(
    private readonly each: (element: T) => void,
    private readonly onError: (error: unknown, element: T) => void,
    private readonly sliceMs = DEFAULT_SLICE_MS,
  ) {}

  get running(): boolean {
    return this.pending !== null;
  }

  /** Starts a round over `elements` (taken as they are now) unless one runs; false if one does. */
  start(elements: Iterable<T>): boolean {
    if (this.pending !== null) return false;
    this.pending = [...elements][Symbol.iterator]();
    this.slice();
    return true;
  }

  /** Drops the rest of the round (the owner is closing). */
  stop(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.pending = null;
  }

  private slice(): void {
    this.scheduled = null;
    const pending = this.pending;
    if (pending === null) return;
    const until = performance.now() + this.sliceMs;
    for (let next = pending.next(); !next.done; next = pending.next()) {
      try {
        this.each(next.value);
      } catch (error) {
        this.onError(error, next.value);
      }
      if (performance.now() >= until) {
        this.scheduled = setImmediate(() => this.slice());
        return;
      }
    }
    this.pending = null;
  }
}
