/**
 * The unit of data a queue holds and a journal persists.
 *
 * Invariants: `id` is unique within one queue and grows with every add (replay keeps the order of
 * ids); `addTime` and `expiry` are unix milliseconds, `expiry` 0 meaning "never"; `flags` is the
 * client's 32-bit unsigned word from `set` (0 for items of journals older than version 3), returned
 * as it came; `data` is owned by the item and its bytes are never mutated after it is created
 * (an open item's `data` may be swapped for an equal copy elsewhere, queue/open_items.ts: hold
 * `data` itself, not the item, to keep on sending the bytes you were given).
 */
export interface Item {
  readonly id: number;
  readonly addTime: number;
  readonly expiry: number;
  readonly flags: number;
  readonly data: Uint8Array;
}

/**
 * What an item held in memory counts toward its queue's memory budget (max_memory_size) besides
 * its bytes: its record in the queue's blocks and its share of the buffers it lives in (an empty
 * item measured about 55 B resident). Without it an empty item counted nothing, and a queue of
 * millions of them stayed in memory whatever the budget.
 */
export const ITEM_MEMORY_OVERHEAD = 64;

/** What `item` counts toward a memory budget while it is held in memory: its bytes and ITEM_MEMORY_OVERHEAD. */
export function memoryCost(item: Item): number {
  return item.data.length + ITEM_MEMORY_OVERHEAD;
}

export function isExpired(item: Item, now: number): boolean {
  return hasExpired(item.expiry, now);
}

/** Whether an item with this `expiry` has expired by `now` (0: it never does). */
export function hasExpired(expiry: number, now: number): boolean {
  return expiry !== 0 && expiry <= now;
}
