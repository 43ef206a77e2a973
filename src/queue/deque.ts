/**
 * A double-ended queue on a growable ring buffer.
 *
 * push/shift/unshift/peek are O(1) (amortised); capacity is a power of two (or 0 before the first
 * element), grows by doubling and shrinks when a large buffer is mostly empty, so a drained queue
 * gives its memory back.
 */
const MIN_CAPACITY = 16;
/** The buffer of every empty, never-used deque: nothing is written to it (a push grows past it first). */
const NO_BUFFER: readonly undefined[] = [];

export class Deque<T> {
  // A queue's waiters, a connection's replies: most deques stay empty, so the buffer comes with the first element.
  private buffer: (T | undefined)[] = NO_BUFFER as (T | undefined)[];
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(value: T): void {
    if (this.count === this.buffer.length) this.resize(this.buffer.length * 2);
    this.buffer[(this.head + this.count) & (this.buffer.length - 1)] = value;
    this.count++;
  }

  unshift(value: T): void {
    if (this.count === this.buffer.length) this.resize(this.buffer.length * 2);
    this.head = (this.head - 1) & (this.buffer.length - 1);
    this.buffer[this.head] = value;
    this.count++;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.buffer[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const value = this.buffer[this.head];
    this.buffer[this.head] = undefined;
    this.head = (this.head + 1) & (this.buffer.length - 1);
    this.count--;
    if (this.buffer.length > MIN_CAPACITY * 4 && this.count < this.buffer.length / 8) this.resize(this.buffer.length / 4);
    return value;
  }

  /** The element `index` places from the head (0 = head), or undefined. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.buffer[(this.head + index) & (this.buffer.length - 1)];
  }

  clear(): void {
    this.buffer = NO_BUFFER as (T | undefined)[];
    this.head = 0;
    this.count = 0;
  }

  /** Keeps only the elements for which `keep` is true, in order; O(n). */
  retain(keep: (value: T) => boolean): void {
    const kept: T[] = [];
    for (const value of this) if (keep(value)) kept.push(value);
    this.clear();
    for (const value of kept) this.push(value);
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.buffer[(this.head + i) & (this.buffer.length - 1)] as T;
  }

  private resize(capacity: number): void {
    const next: (T | undefined)[] = new Array(Math.max(capacity, MIN_CAPACITY));
    for (let i = 0; i < this.count; i++) next[i] = this.buffer[(this.head + i) & (this.buffer.length - 1)];
    this.buffer = next;
    this.head = 0;
  }
}
