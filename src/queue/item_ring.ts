/**
 * The items a queue holds in memory, in order, as numbers: a ring buffer over typed arrays
 * (id, add time, expiry; and where the bytes are: home, offset, length, see byte_homes.ts). No
 * JavaScript object exists per queued item, so a queue of a million items costs the collector
 * nothing to trace and about 48 bytes an item besides the bytes themselves. Items are made into
 * objects only as they leave (shift) or are looked at (peek, at, iteration).
 *
 * push/shift/unshift/peek are O(1) (amortised); capacity is a power of two, grows by doubling and
 * shrinks when a large ring is mostly empty, so a drained queue gives its memory back.
 *
 * Invariants: slots head .. head+count-1 (mod capacity) hold the items, head first; each holds one
 * count on its home (byte_homes.ts), given back when the item leaves; `headItem` is the object
 * made for the current head, if any (so repeated peeks make one).
 */
import type { Item } from "../journal/item.ts";
import { bytesAt, holdHome, releaseHome } from "./byte_homes.ts";

const MIN_CAPACITY = 16;

export class ItemRing {
  private capacity = MIN_CAPACITY;
  /** Per slot: id, addTime, expiry. */
  private times = new Float64Array(MIN_CAPACITY * 3);
  /** Per slot: home, offset, length of the item's bytes. */
  private places = new Int32Array(MIN_CAPACITY * 3);
  private head = 0;
  private count = 0;
  private headItem: Item | null = null;

  get length(): number {
    return this.count;
  }

  push(item: Item): void {
    if (this.count === this.capacity) this.resize(this.capacity * 2);
    this.write((this.head + this.count) & (this.capacity - 1), item);
    this.count++;
  }

  unshift(item: Item): void {
    if (this.count === this.capacity) this.resize(this.capacity * 2);
    this.head = (this.head - 1) & (this.capacity - 1);
    this.write(this.head, item);
    this.count++;
    this.headItem = item;
  }

  peek(): Item | undefined {
    if (this.count === 0) return undefined;
    this.headItem ??= this.read(this.head);
    return this.headItem;
  }

  shift(): Item | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    releaseHome(this.places[this.head * 3]!);
    this.head = (this.head + 1) & (this.capacity - 1);
    this.count--;
    this.headItem = null;
    if (this.capacity > MIN_CAPACITY * 4 && this.count < this.capacity / 8) this.resize(this.capacity / 4);
    return item;
  }

  /** The id of the item `index` places from the head, or undefined. */
  idAt(index: number): number | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.times[((this.head + index) & (this.capacity - 1)) * 3];
  }

  clear(): void {
    for (let i = 0; i < this.count; i++) releaseHome(this.places[((this.head + i) & (this.capacity - 1)) * 3]!);
    this.capacity = MIN_CAPACITY;
    this.times = new Float64Array(MIN_CAPACITY * 3);
    this.places = new Int32Array(MIN_CAPACITY * 3);
    this.head = this.count = 0;
    this.headItem = null;
  }

  /** Keeps only the items for which `keep` is true, in order; O(n). */
  retain(keep: (item: Item) => boolean): void {
    const kept = [...this].filter(keep);
    this.clear();
    for (const item of kept) this.push(item);
  }

  *[Symbol.iterator](): IterableIterator<Item> {
    for (let i = 0; i < this.count; i++) yield this.read((this.head + i) & (this.capacity - 1));
  }

  private write(slot: number, item: Item): void {
    const data = item.data;
    this.times[slot * 3] = item.id;
    this.times[slot * 3 + 1] = item.addTime;
    this.times[slot * 3 + 2] = item.expiry;
    this.places[slot * 3] = holdHome(data);
    this.places[slot * 3 + 1] = data.byteOffset;
    this.places[slot * 3 + 2] = data.length;
  }

  private read(slot: number): Item {
    const t = slot * 3;
    return {
      id: this.times[t]!,
      addTime: this.times[t + 1]!,
      expiry: this.times[t + 2]!,
      data: bytesAt(this.places[t]!, this.places[t + 1]!, this.places[t + 2]!),
    };
  }

  private resize(capacity: number): void {
    const size = Math.max(capacity, MIN_CAPACITY);
    const times = new Float64Array(size * 3);
    const places = new Int32Array(size * 3);
    for (let i = 0; i < this.count; i++) {
      const from = ((this.head + i) & (this.capacity - 1)) * 3;
      for (let field = 0; field < 3; field++) {
        times[i * 3 + field] = this.times[from + field]!;
        places[i * 3 + field] = this.places[from + field]!;
      }
    }
    this.times = times;
    this.places = places;
    this.capacity = size;
    this.head = 0;
  }
}
