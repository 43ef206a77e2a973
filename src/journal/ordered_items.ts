/**
 * Items by id, in the order they were added, for replay (ReplayState's never-opened items).
 *
 * ADD records carry ids in the order they were given out, so while ids keep increasing the items
 * are a plain array found by binary search, and a replay of millions of adds costs that many
 * pushes, not hash-table inserts. From the first id that does not increase (a compaction wrote
 * items put back at the head before older ones), they move to a Map, which keeps insertion order
 * too. Removal is usually of the oldest item: the array's start just moves on, and the deleted
 * prefix is cut off once it is most of the array.
 *
 * Invariants (array form): `ids` strictly increases; `items[i]` is the item with id `ids[i]`, or
 * undefined once deleted; every entry before `head` is deleted; `live` counts the others not
 * deleted.
 */
import type { Item } from "./item.ts";

/** The deleted prefix is cut off once it is this long and most of the array. */
const COMPACT_FROM = 1024;

export class OrderedItems {
  private ids: number[] = [];
  private items: (Item | undefined)[] = [];
  private head = 0;
  private live = 0;
  private map: Map<number, Item> | null = null;

  get size(): number {
    return this.map?.size ?? this.live;
  }

  get(id: number): Item | undefined {
    if (this.map !== null) return this.map.get(id);
    const index = this.indexOf(id);
    return index < 0 ? undefined : this.items[index];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds `item` last (its id must not be here). */
  add(item: Item): void {
    if (this.map === null && (this.ids.length === 0 || item.id > this.ids[this.ids.length - 1]!)) {
      this.ids.push(item.id);
      this.items.push(item);
      this.live++;
      return;
    }
    this.toMap().set(item.id, item);
  }

  /** Removes the item with `id`; returns it, or undefined if there is none. */
  delete(id: number): Item | undefined {
    if (this.map !== null) {
      const item = this.map.get(id);
      this.map.delete(id);
      return item;
    }
    const index = this.indexOf(id);
    const item = index < 0 ? undefined : this.items[index];
    if (item === undefined) return undefined;
    this.items[index] = undefined;
    this.live--;
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++;
    if (this.head >= COMPACT_FROM && this.head * 2 >= this.items.length) this.compact();
    return item;
  }

  /** The oldest item, or undefined. */
  first(): Item | undefined {
    if (this.map !== null) return this.map.values().next().value;
    return this.items[this.head];
  }

  /** The items, oldest first. */
  *values(): IterableIterator<Item> {
    if (this.map !== null) {
      yield* this.map.values();
      return;
    }
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined) yield item;
    }
  }

  /** Index of `id` in the array form, or -1. */
  private indexOf(id: number): number {
    let low = this.head;
    let high = this.ids.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = this.ids[middle]!;
      if (found === id) return middle;
      if (found < id) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  private compact(): void {
    this.ids = this.ids.slice(this.head);
    this.items = this.items.slice(this.head);
    this.head = 0;
  }

  private toMap(): Map<number, Item> {
    if (this.map === null) {
      const map = new Map<number, Item>();
      for (const item of this.values()) map.set(item.id, item);
      this.map = map;
      this.ids = [];
      this.items = [];
      this.head = this.live = 0;
    }
    return this.map;
  }
}
