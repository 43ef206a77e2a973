/**
 * The slots of item blocks a queue let go of all at once (a flush or a delete), given back to
 * their homes (byte_homes.ts) over event-loop turns. Giving back a million items' homes in the
 * turn of the `flush` took about 40 ms, with the server serving nobody (issue 9).
 *
 * The queue is empty at once: the blocks handed over here belong to no item list any more and
 * nothing reads their items again; only their counts on their homes are left to give back. Until
 * that is done their homes stay counted, their buffers held, and their bytes live (so the waste
 * slab_evacuation.ts looks at is unchanged meanwhile). A few slots (up to AT_ONCE_SLOTS) are given
 * back at once, as a queue's take would; more wait for the next turns, RELEASE_SLICE_MS of the
 * turns' clock a turn (src/clock.ts), STEP_SLOTS slots between looks at the clock.
 *
 * Invariants: each slot handed over is released exactly once, in the order handed over (a block's
 * `start` moves past the slots already released); at most one turn is scheduled at a time, and
 * none once nothing waits.
 */
import { turnClock } from "../clock.ts";
import { turnTask } from "../turn_task.ts";
import { releaseSlot, type Block } from "./item_block.ts";

/** Time one turn spends giving slots back. */
export const RELEASE_SLICE_MS = 2;
/** Slots given back between looks at the clock (about 0.1 ms). */
export const STEP_SLOTS = 4096;
/** Slots a flush gives back at once, in its own turn: a small queue waits for no later turn. */
export const AT_ONCE_SLOTS = 4096;

export class SlotRelease {
  /** Blocks with slots still to give back, from `next` on (the ones before are done). */
  private blocks: Block[] = [];
  private next = 0;
  private waitingSlots = 0;
  private readonly schedule: () => void;

  /** `later` makes the function that asks for a later turn (turnTask; a test drives turns itself). */
  constructor(later: (run: () => void) => () => void = (run) => turnTask("giving back a flushed queue's slots", run)) {
    this.schedule = later(() => this.slice());
  }

  /** Slots handed over and not yet given back. */
  get waiting(): number {
    return this.waitingSlots;
  }

  /**
   * Takes `blocks` (no list's any more) holding `slots` used slots: gives them back now if they
   * are few, over the next turns otherwise.
   */
  release(blocks: readonly Block[], slots: number): void {
    if (slots <= AT_ONCE_SLOTS) {
      for (const block of blocks) releaseBlock(block, Infinity);
      return;
    }
    for (const block of blocks) this.blocks.push(block);
    this.waitingSlots += slots;
    this.schedule();
  }

  /** One turn's work: slots given back until RELEASE_SLICE_MS passed; asks for another turn if some are left. */
  private slice(): void {
    const until = turnClock.now() + RELEASE_SLICE_MS;
    do this.part(STEP_SLOTS);
    while (this.waitingSlots > 0 && turnClock.now() < until);
    if (this.waitingSlots > 0) this.schedule();
  }

  /** Gives back up to `maxSlots` slots, oldest block first. */
  private part(maxSlots: number): void {
    let left = maxSlots;
    while (left > 0 && this.next < this.blocks.length) {
      const block = this.blocks[this.next]!;
      const released = releaseBlock(block, left);
      left -= released;
      this.waitingSlots -= released;
      if (block.start === block.end) this.next++;
    }
    if (this.next === this.blocks.length) {
      this.blocks = [];
      this.next = 0;
    }
  }
}

/** Gives back up to `maxSlots` of `block`'s used slots, from its start; returns how many. */
function releaseBlock(block: Block, maxSlots: number): number {
  const end = Math.min(block.end, block.start + maxSlots);
  const released = end - block.start;
  for (let slot = block.start; slot < end; slot++) releaseSlot(block, slot);
  block.start = end;
  return released;
}

/** The one every item list hands its slots to. */
export const slotRelease = new SlotRelease();
