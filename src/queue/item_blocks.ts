/**
 * The items a queue holds in memory, in order, as numbers: a list of blocks of typed arrays (id,
 * add time, expiry; where the bytes are: home, offset, length, see byte_homes.ts; flags). No
 * JavaScript object exists per queued item, so a queue of a million items costs the collector
 * nothing to trace and 40 bytes an item besides the bytes themselves. Items are made into objects
 * only as they leave (shift) or are looked at (peek, iteration).
 *
 * Items are not moved once written (but for `removeExpired`, a flush_expired, which moves the
 * items it keeps up within their block; `relocate` changes only where their bytes are, see
 * slab_evacuation.ts, which knows every list holding items): a full last block is followed by a
 * new one (5-13 slots for a small queue, doubling up to 512-1,024), a drained first block is
 * dropped. So push, shift and unshift are O(1) with no copying at all, and a long queue never
 * stalls the server to grow. The sizes differ from one list to the next (`growthOf`): the 500
 * children of a fanout, which get the same items in lockstep, would otherwise all start a new
 * block with the same item (500 blocks of 40 KB, 20 MB allocated by one set: an 11 ms turn was
 * seen); staggered, a few dozen do at once. An empty queue keeps at most one small block.
 *
 * Invariants: blocks[first ..] hold the items in order, block by block, each in slots
 * start .. end-1; only the first and the last block may be partly used, but for blocks
 * `removeExpired` took items from; a block other than the last is never empty; each used slot
 * holds one count on its home (byte_homes.ts), given back when the item leaves (a `clear` hands
 * its slots to slot_release.ts, which gives many back over turns); the list is listed for slab
 * evacuation (`listed` >= 0) exactly while it holds items; `headItem` is the
 * object made for the current head, if any (so repeated peeks make one), its bytes where the
 * head's slot says. `headExpiry` and `headAddTime` read the head's times without making it: an
 * add checks the head's expiry, and an idle queue would otherwise keep its head as an object
 * (130 B).
 */
import type { Item } from "../journal/item.ts";
import { newBlock, read, releaseSlot, relocateInBlock, removeFromBlock, write, type Block } from "./item_block.ts";
import { listEmptied, listFilled, type MoveOut, type Relocatable } from "./slab_evacuation.ts";
import { slotRelease } from "./slot_release.ts";

/**
 * A first block has 5-13 slots (a queue of a few items costs 40 bytes a slot), nine sizes in
 * turn: no two of them start a later block at the same item (4-12 would: 4 × 3 = 12 × 1).
 */
const FIRST_SLOTS_MIN = 5;
const FIRST_SLOTS_STEPS = 9;
const BLOCK_SLOTS = 1024;
/** Lists made so far: each takes the next step of the stagger. */
let listsMade = 0;

/** How a list's blocks grow: its first block's slots, doubling up to its largest. */
export interface BlockGrowth {
  readonly first: number;
  readonly largest: number;
}

/**
 * The growth of the `n`th list made: a first block of 5-13 slots and a largest of 512-1,024,
 * spread over consecutive lists (the largest steps by 97, prime to the 513 sizes, so any 513
 * consecutive lists all differ).
 */
export function growthOf(n: number): BlockGrowth {
  return { first: FIRST_SLOTS_MIN + (n % FIRST_SLOTS_STEPS), largest: BLOCK_SLOTS / 2 + ((n * 97) % (BLOCK_SLOTS / 2 + 1)) };
}
/** The largest block an emptied queue keeps (2.6 KB); a bigger one is freed. */
const KEPT_SLOTS = 64;
/** Dropped blocks at the front of `blocks` tolerated before the array is compacted. */
const DROPPED_BLOCKS = 64;

/** Stands in `blocks` for a dropped block until the array is compacted. */
const DROPPED = newBlock(0, 0);

export class ItemBlocks implements Relocatable {
  private blocks: Block[] = [];
  /** Slots of the first block and of the largest (see `growthOf`), as numbers: no object per list. */
  private readonly firstSlots: number;
  private readonly largestSlots: number;
  private first = 0;
  private count = 0;
  private headItem: Item | null = null;
  listed = -1;

  constructor() {
    const growth = growthOf(listsMade++);
    this.firstSlots = growth.first;
    this.largestSlots = growth.largest;
  }

  get length(): number {
    return this.count;
  }

  push(item: Item): void {
    let last = this.blocks.at(-1);
    if (last === undefined || last.end === last.slots) {
      last = newBlock(this.nextSlots(), 0);
      this.blocks.push(last);
    }
    write(last, last.end++, item);
    if (this.count++ === 0) listFilled(this);
  }

  unshift(item: Item): void {
    let head = this.blocks[this.first];
    if (head === undefined || head.start === 0) {
      const slots = this.nextSlots();
      head = newBlock(slots, slots);
      if (this.first > 0) this.blocks[--this.first] = head;
      else this.blocks.unshift(head);
    }
    write(head, --head.start, item);
    if (this.count++ === 0) listFilled(this);
    this.headItem = item;
  }

  peek(): Item | undefined {
    if (this.count === 0) return undefined;
    const head = this.blocks[this.first]!;
    this.headItem ??= read(head, head.start);
    return this.headItem;
  }

  /** The head's expiry, read without making the head an object (most adds look only at it). */
  headExpiry(): number | undefined {
    return this.headTime(2);
  }

  /** The head's add time, read without making the head an object. */
  headAddTime(): number | undefined {
    return this.headTime(1);
  }

  /** Field `field` (1: add time, 2: expiry) of the head's times, or undefined if empty. */
  private headTime(field: 1 | 2): number | undefined {
    if (this.count === 0) return undefined;
    const head = this.blocks[this.first]!;
    return head.times[head.start * 3 + field];
  }

  shift(): Item | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    const head = this.blocks[this.first]!;
    releaseSlot(head, head.start);
    head.start++;
    if (--this.count === 0) listEmptied(this);
    this.headItem = null;
    if (head.start === head.end) this.dropHead(head);
    return item;
  }

  /** The id of the item `index` places from the head, or undefined. O(index / 512). */
  idAt(index: number): number | undefined {
    if (index < 0 || index >= this.count) return undefined;
    for (let b = this.first; ; b++) {
      const block = this.blocks[b]!;
      const used = block.end - block.start;
      if (index < used) return block.times[(block.start + index) * 3];
      index -= used;
    }
  }

  /** The ids of the first `count` items, head first. O(count). */
  idsFromHead(count: number): number[] {
    const ids: number[] = [];
    for (let b = this.first; b < this.blocks.length && ids.length < count; b++) {
      const block = this.blocks[b]!;
      for (let slot = block.start; slot < block.end && ids.length < count; slot++) ids.push(block.times[slot * 3]!);
    }
    return ids;
  }

  /** The first `count` items, head first, as objects. O(count). */
  headItems(count: number): Item[] {
    const items: Item[] = [];
    for (let b = this.first; b < this.blocks.length && items.length < count; b++) {
      const block = this.blocks[b]!;
      for (let slot = block.start; slot < block.end && items.length < count; slot++) items.push(read(block, slot));
    }
    return items;
  }

  /**
   * The items after the first `skip`, in order, from the first whose id is above `afterId`, while
   * ids stay below `belowId`, until their bytes reach `maxBytes` (at least one, if any is there).
   * The items from `skip` on must have growing ids (a queue's run, see item_store.ts): whole blocks
   * are passed by their last id. O(blocks + items returned).
   */
  itemsAfterId(skip: number, afterId: number, belowId: number, maxBytes: number): Item[] {
    const items: Item[] = [];
    let bytes = 0;
    let toSkip = skip;
    for (let b = this.first; b < this.blocks.length; b++) {
      const block = this.blocks[b]!;
      const used = block.end - block.start;
      if (toSkip >= used) {
        toSkip -= used;
        continue;
      }
      const from = block.start + toSkip;
      toSkip = 0;
      if (items.length === 0 && block.times[(block.end - 1) * 3]! <= afterId) continue;
      for (let slot = from; slot < block.end; slot++) {
        const id = block.times[slot * 3]!;
        if (id <= afterId) continue;
        if (id >= belowId || bytes >= maxBytes) return items;
        const item = read(block, slot);
        items.push(item);
        bytes += item.data.length;
      }
    }
    return items;
  }

  /** Empties the list at once; its slots' homes are given back over turns if there are many (slot_release.ts). */
  clear(): void {
    if (this.count > 0) {
      listEmptied(this);
      slotRelease.release(this.blocks.slice(this.first), this.count);
    }
    this.blocks = [];
    this.first = this.count = 0;
    this.headItem = null;
  }

  /**
   * Removes, block by block from `from` (a place an earlier call returned; null: the head), the
   * items whose expiry `expired` picks and `drop` takes (handed each such item as an object, with
   * its place from the head when this call began); the others are never made into objects, and
   * move up within their block. Stops after a block once `enough()` says so. Returns where to go
   * on, or null once it passed the tail. O(items looked at).
   */
  removeExpired(from: BlockPlace | null, expired: (expiry: number) => boolean, drop: (item: Item, place: number) => boolean, enough: () => boolean): BlockPlace | null {
    let b = from === null ? -1 : this.blocks.indexOf(from as Block, this.first);
    // A place not found was taken from the head meanwhile, with everything before it.
    if (b === -1) b = this.first;
    let place = 0;
    for (let before = this.first; before < b; before++) place += this.blocks[before]!.end - this.blocks[before]!.start;
    for (; b < this.blocks.length; ) {
      const block = this.blocks[b]!;
      place += block.end - block.start;
      const removed = removeFromBlock(block, place - (block.end - block.start), expired, drop);
      if (removed > 0) {
        this.count -= removed;
        if (this.count === 0) listEmptied(this);
        if (b === this.first) this.headItem = null;
        if (block.start === block.end && b < this.blocks.length - 1) b = this.dropEmptied(b);
        else b++;
      } else {
        b++;
      }
      if (enough()) break;
    }
    return this.blocks[b] ?? null;
  }

  /** See Relocatable (slab_evacuation.ts). */
  relocate(from: BlockPlace | null, moveOut: MoveOut, enough: (looked: number) => boolean): BlockPlace | null {
    let b = from === null ? -1 : this.blocks.indexOf(from as Block, this.first);
    // A place not found was taken from the head meanwhile, with everything before it.
    if (b === -1) b = this.first;
    let looked = 0;
    while (b < this.blocks.length) {
      const block = this.blocks[b]!;
      if (relocateInBlock(block, moveOut) && b === this.first) this.headItem = null;
      looked += block.end - block.start;
      b++;
      if (enough(looked)) break;
    }
    return this.blocks[b] ?? null;
  }

  *[Symbol.iterator](): IterableIterator<Item> {
    for (let b = this.first; b < this.blocks.length; b++) {
      const block = this.blocks[b]!;
      for (let slot = block.start; slot < block.end; slot++) yield read(block, slot);
    }
  }

  /** Blocks held, partly used ones included. */
  get blockCount(): number {
    return this.blocks.length - this.first;
  }

  /** Slots of the next block: small for a small queue, more as it grows. */
  private nextSlots(): number {
    let slots = this.firstSlots;
    while (slots < this.largestSlots && slots <= this.count) slots *= 2;
    return Math.min(slots, this.largestSlots);
  }

  /** Block `b`, not the last, lost all its items to `removeExpired`: dropped. Returns the index of the block after it now. */
  private dropEmptied(b: number): number {
    if (b !== this.first) {
      this.blocks.splice(b, 1);
      return b;
    }
    this.dropHead(this.blocks[b]!);
    return this.first;
  }

  /** `head`, the first block, was drained: dropped, unless it is the last and small (kept for reuse). */
  private dropHead(head: Block): void {
    if (this.first === this.blocks.length - 1) {
      head.start = head.end = 0;
      this.blocks = head.slots <= KEPT_SLOTS ? [head] : [];
      this.first = 0;
      return;
    }
    this.blocks[this.first++] = DROPPED; // frees the block; the array is compacted now and then
    if (this.first >= DROPPED_BLOCKS && this.first * 2 >= this.blocks.length) {
      this.blocks = this.blocks.slice(this.first);
      this.first = 0;
    }
  }
}

/** A place in a list for `removeExpired` to go on from: a block, whatever index it has by then. */
export type BlockPlace = object;
