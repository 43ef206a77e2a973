/**
 * One block of an item list (item_blocks.ts): a run of slots, each an item as numbers, and the
 * functions that write, read, filter and relocate them.
 *
 * Invariants: slots start .. end-1 hold items; a used slot's `places` are its bytes' home
 * (byte_homes.ts), offset and length, and its flags, and it holds one count on that home, taken
 * by `write` for its length and given back by `releaseSlot` (or `removeFromBlock`) when the item
 * leaves; `relocateInBlock` changes where a slot's bytes are, to equal bytes, and moves its count
 * with them.
 */
import type { Item } from "../journal/item.ts";
import { bytesAt, holdHome, isSparse, releaseHome } from "./byte_homes.ts";
import type { MoveOut } from "./slab_evacuation.ts";

export interface Block {
  /** Per slot: id, addTime, expiry. */
  readonly times: Float64Array;
  /**
   * Per slot: home, offset, length of the item's bytes, and its flags (a 32-bit unsigned word,
   * kept as its signed twin). One array, not two: a typed array costs 56 B besides its slots.
   */
  readonly places: Int32Array;
  readonly slots: number;
  start: number;
  end: number;
}

export function newBlock(slots: number, at: number): Block {
  return { times: new Float64Array(slots * 3), places: new Int32Array(slots * 4), slots, start: at, end: at };
}

/**
 * Removes from `block` the items `expired` and `drop` pick (`first` is the place of its first
 * item), moving the rest up toward `start`; returns how many it removed.
 */
export function removeFromBlock(block: Block, first: number, expired: (expiry: number) => boolean, drop: (item: Item, place: number) => boolean): number {
  const { times, places } = block;
  let kept = block.start;
  for (let slot = block.start; slot < block.end; slot++) {
    if (expired(times[slot * 3 + 2]!) && drop(read(block, slot), first + slot - block.start)) {
      releaseSlot(block, slot);
      continue;
    }
    if (kept !== slot) {
      times.copyWithin(kept * 3, slot * 3, slot * 3 + 3);
      places.copyWithin(kept * 4, slot * 4, slot * 4 + 4);
    }
    kept++;
  }
  const removed = block.end - kept;
  block.end = kept;
  return removed;
}

export function write(block: Block, slot: number, item: Item): void {
  const data = item.data;
  const at = slot * 3;
  block.times[at] = item.id;
  block.times[at + 1] = item.addTime;
  block.times[at + 2] = item.expiry;
  const place = slot * 4;
  block.places[place] = holdHome(data);
  block.places[place + 1] = data.byteOffset;
  block.places[place + 2] = data.length;
  block.places[place + 3] = item.flags;
}

export function read(block: Block, slot: number): Item {
  const at = slot * 3;
  const place = slot * 4;
  return {
    id: block.times[at]!,
    addTime: block.times[at + 1]!,
    expiry: block.times[at + 2]!,
    flags: block.places[place + 3]! >>> 0,
    data: bytesAt(block.places[place]!, block.places[place + 1]!, block.places[place + 2]!),
  };
}

/** The item in `slot` leaves: its count on its home is given back. */
export function releaseSlot(block: Block, slot: number): void {
  releaseHome(block.places[slot * 4]!, block.places[slot * 4 + 2]!);
}

/**
 * Gives the items of `block` whose home is sparse (byte_homes.ts) the bytes `moveOut` returns for
 * them (equal bytes elsewhere; null: they stay), holding the new home before releasing the old.
 * Returns whether the first item's bytes moved.
 */
export function relocateInBlock(block: Block, moveOut: MoveOut): boolean {
  const places = block.places;
  let firstMoved = false;
  for (let slot = block.start; slot < block.end; slot++) {
    const at = slot * 4;
    const home = places[at]!;
    if (!isSparse(home)) continue;
    const length = places[at + 2]!;
    const bytes = moveOut(home, places[at + 1]!, length);
    if (bytes === null) continue;
    places[at] = holdHome(bytes);
    places[at + 1] = bytes.byteOffset;
    releaseHome(home, length);
    if (slot === block.start) firstMoved = true;
  }
  return firstMoved;
}
