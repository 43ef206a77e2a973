/**
 * Which queues the admin history keeps series for, when there are more queues than it has room
 * for: the deepest and the busiest, and the ones it already keeps while they stay near the top.
 *
 * Invariants: never more than `limit` names; every name is a queue given; with `limit` or fewer
 * queues, all of them; the top half of `limit` by items and the rest by traffic are always in.
 * Then come the queues already kept, those ranking within twice `limit` by items or traffic
 * first: so a queue near the cut stays kept while others swap places around it, and loses its
 * series only when a newcomer to the tops needs its place. Among equals the queue given first
 * ranks higher. Cost: the queues are looked at one at a time (`TrackedChoice.add`, so the history
 * can spread them over turns), each in O(log limit) (two heaps of twice `limit`); the choice
 * itself sorts a few times `limit` of them.
 */

/** What the choice looks at, for one queue. */
export interface QueueActivity {
  readonly name: string;
  /** Items queued. */
  readonly items: number;
  /** Items in and out per second at the last sample. */
  readonly traffic: number;
}

/** A queue as given to the choice: `index` is its place in the order given. */
interface Entry<T> {
  readonly queue: T;
  readonly index: number;
}

/** The choice made a queue at a time: `add` each queue, in order, then `finish` once. */
export class TrackedChoice<T extends QueueActivity> {
  private readonly byItems: TopValues<T>;
  private readonly byTraffic: TopValues<T>;
  /** The kept queues seen, and the first `limit` queues (idle room is filled from those). */
  private readonly kept: Array<Entry<T>> = [];
  private readonly first: Array<Entry<T>> = [];
  private count = 0;

  constructor(
    private readonly keptNames: ReadonlySet<string>,
    private readonly limit: number,
  ) {
    this.byItems = new TopValues(2 * limit);
    this.byTraffic = new TopValues(2 * limit);
  }

  /** Costs no allocation for a queue that neither is kept nor enters a top. */
  add(queue: T): void {
    const index = this.count++;
    if (this.first.length < this.limit) this.first.push({ queue, index });
    if (this.keptNames.has(queue.name)) this.kept.push({ queue, index });
    this.byItems.offer(queue, index, queue.items);
    this.byTraffic.offer(queue, index, queue.traffic);
  }

  /** The queues to keep series for, in the order given. */
  finish(): T[] {
    if (this.count <= this.limit) return this.first.map((entry) => entry.queue);
    const byItems = this.byItems.places();
    const byTraffic = this.byTraffic.places();
    const best = (i: number) => Math.min(byItems.get(i) ?? Infinity, byTraffic.get(i) ?? Infinity);
    // 0: wanted now; 1: kept and near the top; 2: kept; 3: near the top, which fills any room left.
    const tier = (entry: Entry<T>) => {
      if ((byItems.get(entry.index) ?? Infinity) < Math.ceil(this.limit / 2) || (byTraffic.get(entry.index) ?? Infinity) < Math.floor(this.limit / 2)) return 0;
      if (!this.keptNames.has(entry.queue.name)) return 3;
      return best(entry.index) < 2 * this.limit ? 1 : 2;
    };
    const candidates = new Map<number, Entry<T>>();
    for (const entry of [...this.byItems.entries, ...this.byTraffic.entries, ...this.kept]) candidates.set(entry.index, entry);
    const ordered = [...candidates.values()].map((entry) => ({ entry, tier: tier(entry), best: best(entry.index) }));
    ordered.sort((a, b) => a.tier - b.tier || a.best - b.best || a.entry.index - b.entry.index);
    const chosen = new Map(ordered.slice(0, this.limit).map(({ entry }) => [entry.index, entry]));
    // Room nothing near the top wants: idle queues, in the order given (the first `limit` hold
    // enough: each of them is either chosen already or fills a place).
    for (const entry of this.first) {
      if (chosen.size >= this.limit) break;
      chosen.set(entry.index, entry);
    }
    return [...chosen.values()].sort((a, b) => a.index - b.index).map((entry) => entry.queue);
  }
}

/**
 * The `count` entries with the largest values above 0, the earlier first among equals: a heap
 * whose root is the least of them, so an entry offered costs O(log count).
 */
class TopValues<T> {
  readonly entries: Array<Entry<T>> = [];
  private readonly values: number[] = [];

  constructor(private readonly count: number) {}

  offer(queue: T, index: number, value: number): void {
    if (value <= 0 || this.count === 0) return;
    if (this.entries.length < this.count) {
      this.entries.push({ queue, index });
      this.values.push(value);
      this.siftUp(this.entries.length - 1);
    } else if (value > this.values[0]!) {
      // Entries come in order, so one equal to the least is later, and ranks below it.
      this.entries[0] = { queue, index };
      this.values[0] = value;
      this.siftDown(0);
    }
  }

  /** Each entry's place by index given (0 is the top). */
  places(): Map<number, number> {
    const order = this.entries.map((entry, at) => ({ index: entry.index, value: this.values[at]! }));
    order.sort((a, b) => b.value - a.value || a.index - b.index);
    return new Map(order.map(({ index }, place) => [index, place]));
  }

  /** True when the entry at `a` ranks below the one at `b`. */
  private below(a: number, b: number): boolean {
    return this.values[a]! < this.values[b]! || (this.values[a] === this.values[b] && this.entries[a]!.index > this.entries[b]!.index);
  }

  private siftUp(at: number): void {
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.below(at, parent)) return;
      this.swap(at, parent);
      at = parent;
    }
  }

  private siftDown(at: number): void {
    for (;;) {
      const left = 2 * at + 1;
      let least = at;
      if (left < this.entries.length && this.below(left, least)) least = left;
      if (left + 1 < this.entries.length && this.below(left + 1, least)) least = left + 1;
      if (least === at) return;
      this.swap(at, least);
      at = least;
    }
  }

  private swap(a: number, b: number): void {
    [this.entries[a], this.entries[b]] = [this.entries[b]!, this.entries[a]!];
    [this.values[a], this.values[b]] = [this.values[b]!, this.values[a]!];
  }
}
