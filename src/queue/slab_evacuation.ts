/**
 * Moves the bytes of items in memory (queued, or open: reliable reads not yet closed) out of
 * buffers that are mostly waste, so the memory held for them stays proportional to their bytes
 * whatever the order items of different queues come and go in.
 *
 * Small items share 64 KiB slabs (journal/byte_slab.ts) in the order they arrive, whatever their
 * queue; a slab lives while any item names it. One 1-byte item kept while the rest of its slab
 * left (another queue's items, taken or discarded at once) held 64 KiB: 8,000 of them 578 MiB.
 * byte_homes.ts counts, per buffer, the bytes its items name; once the buffers hold more than half
 * as much again as the items name, plus WASTE_SLACK_BYTES, it calls us. A round then goes over
 * every item list that holds items (a queue's items in memory, its open items: an open item is
 * in no queue, and one opened and never closed held its slab as a kept one did: 8,000 of them
 * 718 MiB), a few thousand slots per step, in SlicedRound slices across
 * event-loop turns, and gives each item whose buffer is sparse (a quarter or more of it waste, and
 * not a slab still being filled) a copy of its bytes in a survivor slab (`copySurvivor`). Once its
 * last item moved, the old buffer is forgotten and freed. After a round, every buffer it looked
 * at is at least three quarters used, so the waste is at most a third of the live bytes (plus the
 * two slabs being filled and what came meanwhile): the next round waits for a sixth of the live
 * bytes and WASTE_SLACK_BYTES of new waste, which pays for looking at every slot again. Moving a
 * buffer's survivors copies at most three bytes per byte it frees.
 *
 * A list whose move throws (a bug) is logged once (`internal error moving a queue's items out of
 * sparse slabs`) and left for this round, the others going on (SlicedRound): each of its slots
 * names its old bytes or, if moved already, the copy (a slot's home changes only once its copy
 * exists), so nothing needs mending (at worst the old buffer of the slot being moved keeps one
 * count it should have given back); its buffers stay until a later round moves them. A round
 * in which nothing moved (that list the only one) leaves the waste alone for a second, as any
 * fruitless round does.
 *
 * Invariants: an item moved keeps its place, id, times and flags, and its bytes are equal and,
 * like any item's, never written; each slot's home is held for the new bytes before the old is
 * released, once per slot (no double release, nothing lost); bytes several slots shared (a fanout
 * child and its parent) move once per round and stay shared (`moved` maps each old place to its
 * copy, weakly, so a forgotten buffer is not kept); `lists` holds exactly the lists with items,
 * each at its `listed` index; one round at a time, and none starts inside a queue operation (the
 * waste listener only schedules).
 */
import { logBug } from "../guarded.ts";
import { copySurvivor, isFilling } from "../journal/byte_slab.ts";
import { turnTask } from "../turn_task.ts";
import { bufferOf, bytesAt, listenForWaste } from "./byte_homes.ts";
import type { BlockPlace } from "./item_blocks.ts";
import { SlicedRound } from "./sliced_round.ts";

/** Slots a step looks at (or bytes it moves, MOVE_BYTES_PER_SLOT to a slot) before the round checks its time. */
const SLOTS_PER_STEP = 4096;
const MOVE_BYTES_PER_SLOT = 64;
/** After a round that moved nothing, how long the waste is left alone (a guard against rounds in a loop). */
const IDLE_AFTER_FRUITLESS_MS = 1000;
/** What a list's bug is logged as. */
const MOVING = "moving a queue's items out of sparse slabs";

/** Equal bytes elsewhere for the `length` bytes at `offset` in home `home`, or null: they stay. */
export type MoveOut = (home: number, offset: number, length: number) => Uint8Array | null;

/** What a round needs of a list of items (a queue's items in memory, its open items). */
export interface Relocatable {
  /** Its index in `lists`, or -1 while it holds no item. */
  listed: number;
  /**
   * Gives the items whose home is sparse the bytes `moveOut` returns for them (null: they stay),
   * block by block from `from` (null: the head) until `enough(slots looked at)` after a block;
   * returns where to go on, or null past the tail.
   */
  relocate(from: BlockPlace | null, moveOut: MoveOut, enough: (looked: number) => boolean): BlockPlace | null;
}

const lists: Relocatable[] = [];

/** `list` got its first item. */
export function listFilled(list: Relocatable): void {
  list.listed = lists.length;
  lists.push(list);
}

/** `list` gave up its last item. */
export function listEmptied(list: Relocatable): void {
  const last = lists.pop()!;
  if (last !== list) {
    lists[list.listed] = last;
    last.listed = list.listed;
  }
  list.listed = -1;
}

class Evacuation {
  private readonly round = new SlicedRound<Relocatable>(
    (list) => this.step(list),
    (error) => void logBug(MOVING, error),
  );
  private readonly start = turnTask("starting a round of slab evacuation", () => this.startRound());
  /** The list being gone through and where, across steps. */
  private current: Relocatable | null = null;
  private place: BlockPlace | null = null;
  /** Per old buffer, per offset, the copy its bytes got this round. */
  private moved = new WeakMap<ArrayBufferLike, Map<number, Uint8Array>>();
  private movedBytes = 0;
  private waiting = false;
  private idle: (() => void)[] = [];
  /** After a fruitless round, until it listens for waste again: who waits for that. */
  private paused: (() => void)[] | null = null;
  /** Rounds done and bytes moved since the process started. */
  rounds = 0;
  totalMovedBytes = 0;

  constructor() {
    this.listen();
  }

  /** Resolves once no round runs or waits to start. */
  settled(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Resolves once it listens for waste (at once, unless a fruitless round paused it for a while). */
  listening(): Promise<void> {
    const paused = this.paused;
    if (paused === null) return Promise.resolve();
    return new Promise((resolve) => paused.push(resolve));
  }

  private get busy(): boolean {
    return this.waiting || this.round.running;
  }

  private listen(): void {
    listenForWaste(() => {
      this.waiting = true;
      this.start();
    });
  }

  private startRound(): void {
    this.waiting = false;
    this.movedBytes = 0;
    this.round.start(lists, () => this.finish());
  }

  private step(list: Relocatable): boolean {
    if (list !== this.current) {
      this.current = list;
      this.place = null;
    }
    const movedBefore = this.movedBytes;
    this.place = list.relocate(
      this.place,
      (home, offset, length) => this.moveOut(home, offset, length),
      (looked) => looked + (this.movedBytes - movedBefore) / MOVE_BYTES_PER_SLOT >= SLOTS_PER_STEP,
    );
    return this.place === null;
  }

  private moveOut(home: number, offset: number, length: number): Uint8Array | null {
    const buffer = bufferOf(home);
    if (isFilling(buffer)) return null;
    let copies = this.moved.get(buffer);
    if (copies === undefined) this.moved.set(buffer, (copies = new Map()));
    const shared = copies.get(offset);
    if (shared !== undefined && shared.length === length) return shared;
    const copy = copySurvivor(bytesAt(home, offset, length));
    copies.set(offset, copy);
    this.movedBytes += length;
    return copy;
  }

  /** Listens again only after IDLE_AFTER_FRUITLESS_MS (a round that moved nothing would repeat at once). */
  private pause(): void {
    this.paused = [];
    setTimeout(() => {
      const paused = this.paused ?? [];
      this.paused = null;
      this.listen();
      for (const resolve of paused) resolve();
    }, IDLE_AFTER_FRUITLESS_MS).unref();
  }

  private finish(): void {
    this.rounds++;
    this.totalMovedBytes += this.movedBytes;
    this.current = this.place = null;
    this.moved = new WeakMap();
    if (this.movedBytes === 0) this.pause();
    else this.listen();
    if (this.busy) return;
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }
}

const evacuation = new Evacuation();

/** Resolves once the rounds asked for so far are done (for tests and benchmarks). */
export function evacuationSettled(): Promise<void> {
  return evacuation.settled();
}

/** Resolves once waste starts a round again: at once, or after the pause a fruitless round began (for tests: a test's waste must not fall in another's pause). */
export function evacuationListening(): Promise<void> {
  return evacuation.listening();
}

/** Rounds done and item bytes moved so far (for tests and reports). */
export function evacuationTotals(): { readonly rounds: number; readonly movedBytes: number } {
  return { rounds: evacuation.rounds, movedBytes: evacuation.totalMovedBytes };
}
