import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Item } from "../../src/journal/item.ts";
import { heldBytes, homeCount, liveBytes } from "../../src/queue/byte_homes.ts";
import { newBlock, write, type Block } from "../../src/queue/item_block.ts";
import { ItemBlocks } from "../../src/queue/item_blocks.ts";
import { turnClock } from "../../src/clock.ts";
import { AT_ONCE_SLOTS, RELEASE_SLICE_MS, STEP_SLOTS, SlotRelease, slotRelease } from "../../src/queue/slot_release.ts";
import { nextTurn } from "../helpers/turn_clock.ts";

/** Item `id` with 4 bytes of its own buffer (a home per item), or a window of `shared`. */
function item(id: number, shared: Uint8Array | null = null): Item {
  const data = shared === null ? Uint8Array.of(id & 0xff, 1, 2, 3) : shared.subarray(id % 1000, (id % 1000) + 4);
  return { id, addTime: 0, expiry: 0, flags: 0, data };
}


/** Blocks of 512 slots holding items 1..`count` (bytes of their own, or windows of `shared`), as a cleared list hands them over. */
function blocksOf(count: number, shared: Uint8Array | null = null): Block[] {
  const blocks: Block[] = [];
  for (let id = 1; id <= count; id++) {
    if ((id - 1) % 512 === 0) blocks.push(newBlock(512, 0));
    const block = blocks.at(-1)!;
    write(block, block.end++, item(id, shared));
  }
  return blocks;
}

/** A release whose turns the test runs itself. */
class Turns {
  /** A turn was asked for and has not run yet. */
  private asked = false;
  /** The turn's work (declared before `release`, whose constructor sets it). */
  private run: () => void = () => {};
  readonly release = new SlotRelease((run) => {
    this.run = run;
    return () => {
      this.asked = true;
    };
  });
  /** Runs the turn asked for (there must be one). */
  turn(): void {
    expect(this.asked).toBe(true);
    this.asked = false;
    this.run();
  }

  /** Runs turns until none is asked for. */
  runAll(): void {
    for (let turns = 0; this.asked; turns++) {
      expect(turns).toBeLessThan(10_000);
      this.turn();
    }
  }

  get pending(): boolean {
    return this.asked;
  }
}

/** Each look at the turns' clock moves it 1 ms on: a slice is RELEASE_SLICE_MS steps of STEP_SLOTS, whatever the machine. */
const realNow = turnClock.now;
beforeEach(() => {
  let time = 0;
  turnClock.now = () => time++;
});
afterEach(() => {
  turnClock.now = realNow;
});

describe("SlotRelease", () => {
  test("many slots are given back over turns, RELEASE_SLICE_MS steps of STEP_SLOTS a turn; their homes stay counted until then", () => {
    const turns = new Turns();
    const before = { homes: homeCount(), held: heldBytes(), live: liveBytes() };
    const count = 10 * STEP_SLOTS + 5;
    const blocks = blocksOf(count);
    expect(homeCount() - before.homes).toBe(count);
    turns.release.release(blocks, count);
    expect([turns.pending, turns.release.waiting, homeCount() - before.homes]).toEqual([true, count, count]);
    const perTurn: number[] = [];
    while (turns.pending) {
      const waiting = turns.release.waiting;
      turns.turn();
      perTurn.push(waiting - turns.release.waiting);
    }
    // The clock is looked at once before the first step and after each: RELEASE_SLICE_MS steps a turn.
    expect(perTurn.slice(0, -1).every((slots) => slots === RELEASE_SLICE_MS * STEP_SLOTS)).toBe(true);
    expect(perTurn.length).toBe(Math.ceil(count / (RELEASE_SLICE_MS * STEP_SLOTS)));
    expect([turns.release.waiting, homeCount(), heldBytes(), liveBytes()]).toEqual([0, before.homes, before.held, before.live]);
  });

  test("a few slots are given back at once, with no turn asked for", () => {
    const turns = new Turns();
    const before = homeCount();
    turns.release.release(blocksOf(AT_ONCE_SLOTS), AT_ONCE_SLOTS);
    expect([turns.pending, turns.release.waiting, homeCount()]).toEqual([false, 0, before]);
  });

  test("lists cleared one after another are given back in order, each slot once, a shared home forgotten with its last slot", () => {
    const turns = new Turns();
    const before = homeCount();
    const shared = new Uint8Array(2000);
    const cleared = [blocksOf(3 * STEP_SLOTS), blocksOf(3 * STEP_SLOTS, shared)];
    expect(homeCount() - before).toBe(3 * STEP_SLOTS + 1);
    for (const blocks of cleared) turns.release.release(blocks, 3 * STEP_SLOTS);
    turns.turn();
    // The first turn gave back two steps, all from the first list: the shared home is untouched.
    expect(homeCount() - before).toBe(STEP_SLOTS + 1);
    turns.turn();
    expect(homeCount() - before).toBe(1);
    turns.runAll();
    expect([turns.release.waiting, homeCount()]).toEqual([0, before]);
  });
});

describe("ItemBlocks.clear", () => {
  test("a big list is empty at once; its homes go over the next turns", async () => {
    const before = homeCount();
    const list = new ItemBlocks();
    for (let id = 1; id <= AT_ONCE_SLOTS * 3; id++) list.push(item(id));
    list.clear();
    expect([list.length, list.peek(), [...list].length]).toEqual([0, undefined, 0]);
    expect(slotRelease.waiting).toBe(AT_ONCE_SLOTS * 3);
    expect(homeCount() - before).toBe(AT_ONCE_SLOTS * 3);
    // The list is usable at once, and its new items are its own.
    list.push(item(1));
    expect(list.shift()?.id).toBe(1);
    for (let turns = 0; slotRelease.waiting > 0; turns++) {
      expect(turns).toBeLessThan(10_000);
      await nextTurn();
    }
    expect(homeCount()).toBe(before);
  });
});
