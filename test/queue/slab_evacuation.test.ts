import { beforeEach, describe, expect, spyOn, test } from "bun:test";
import fc from "fast-check";
import { DEFAULT_QUEUE_CONFIG } from "../../src/config/schema.ts";
import type { Item } from "../../src/journal/item.ts";
import { log } from "../../src/log.ts";
import { WASTE_SLACK_BYTES, bytesAt, heldBytes, homeCount, liveBytes } from "../../src/queue/byte_homes.ts";
import { ItemBlocks } from "../../src/queue/item_blocks.ts";
import { ItemStore } from "../../src/queue/item_store.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { evacuationListening, evacuationSettled, evacuationTotals } from "../../src/queue/slab_evacuation.ts";
import { slotRelease } from "../../src/queue/slot_release.ts";

const SLAB = 64 * 1024;
const NOW = 1_795_000_000_000;

/** Item `id` whose bytes are a view of `read` (a socket read holding many sets). */
function itemIn(id: number, read: Uint8Array, offset: number, length: number): Item {
  return { id, addTime: 0, expiry: 0, flags: 0, data: read.subarray(offset, offset + length) };
}

/** Once the slots other tests' lists handed over are all given back (over turns): the counts stop moving under a test. */
async function releasesDone(): Promise<void> {
  while (slotRelease.waiting > 0) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Rounds of a slab of waste each that take the process's waste past the evacuation's trigger
 * (`least` in a process of its own): the counts are the process's, so the live bytes other test
 * files left let the buffers hold half as much again before a round runs.
 */
function roundsPastTrigger(least: number): number {
  const headroom = 1.5 * liveBytes() - heldBytes() + WASTE_SLACK_BYTES;
  return Math.max(least, Math.ceil(headroom / SLAB) + 64);
}

/** One socket read of pipelined sets: byte i is `seed + i`. */
function socketRead(seed: number): Uint8Array {
  const read = new Uint8Array(SLAB);
  for (let i = 0; i < read.length; i++) read[i] = (seed + i) & 0xff;
  return read;
}

describe("slab evacuation", () => {
  // The rounds are the process's: one that another test (file) ended fruitlessly pauses them for a second.
  beforeEach(async () => {
    await releasesDone();
    await evacuationSettled();
    await evacuationListening();
  });

  test("small items kept while another queue's traffic passes between them hold memory in proportion to their bytes", async () => {
    // The hostile probe: a 1-byte item to `keep`, then 64 KiB of 100-byte items to `churn`, taken
    // at once; again and again. Each kept byte used to hold the 64 KiB slab it was copied into.
    const keep = new ItemStore(null, Infinity, [], null, "keep");
    const churn = new ItemStore(null, Infinity, [], null, "churn");
    const before = evacuationTotals();
    let id = 1;
    for (let round = 1; round <= 512; round++) {
      const read = socketRead(round);
      keep.push(itemIn(round, read, 0, 1));
      for (let offset = 1; offset + 100 <= SLAB; offset += 100) {
        churn.push(itemIn(id++, read, offset, 100));
        churn.shift();
      }
      // Rounds of evacuation run in later turns, as in the server between its clients' requests.
      if (round % 32 === 0) {
        await evacuationSettled();
        expect(heldBytes()).toBeLessThanOrEqual(liveBytes() * 1.5 + WASTE_SLACK_BYTES);
      }
    }
    await evacuationSettled();
    expect(evacuationTotals().rounds).toBeGreaterThan(before.rounds);
    // Without moving survivors: 512 slabs, 32 MiB held for 512 bytes.
    expect(heldBytes()).toBeLessThanOrEqual(liveBytes() * 1.5 + WASTE_SLACK_BYTES);
    expect(keep.memoryBytes).toBe(512);
    for (let round = 1; round <= 512; round++) {
      const item = keep.shift()!;
      expect([item.id, item.data.length, item.data[0]]).toEqual([round, 1, round & 0xff]);
    }
    expect(keep.count + churn.count).toBe(0);
  });

  test("a list whose move throws (a bug) is logged once; the round goes on with the others, and later rounds with it too", async () => {
    // Two lists kept: the round with the bug still moves the other's bytes (a round that moves
    // nothing leaves the waste alone for a second).
    const keep = new ItemStore(null, Infinity, [], null, "keep-buggy");
    const other = new ItemStore(null, Infinity, [], null, "keep-other");
    const churn = new ItemStore(null, Infinity, [], null, "churn-buggy");
    const relocate = ItemBlocks.prototype.relocate;
    let calls = 0;
    const rounds = roundsPastTrigger(256);
    const buggy = spyOn(ItemBlocks.prototype, "relocate").mockImplementation(function (this: ItemBlocks, ...args) {
      if (++calls === 1) throw new Error("a bug in a move");
      return relocate.apply(this, args);
    });
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      let id = 1;
      for (let round = 1; round <= rounds; round++) {
        const read = socketRead(round);
        keep.push(itemIn(round, read, 0, 1));
        other.push(itemIn(round, read, 1, 1));
        for (let offset = 2; offset + 100 <= SLAB; offset += 100) {
          churn.push(itemIn(id++, read, offset, 100));
          churn.shift();
        }
        if (round % 32 === 0) await evacuationSettled();
      }
      await evacuationSettled();
      // Later rounds looked at the lists again, the one that threw among them.
      expect(calls).toBeGreaterThan(2);
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error moving a queue's items out of sparse slabs: a bug in a move"]);
      expect(heldBytes()).toBeLessThanOrEqual(liveBytes() * 1.5 + WASTE_SLACK_BYTES);
    } finally {
      buggy.mockRestore();
      logged.mockRestore();
    }
    for (let round = 1; round <= rounds; round++) {
      const item = keep.shift()!;
      expect([item.id, item.data.length, item.data[0]]).toEqual([round, 1, round & 0xff]);
      const second = other.shift()!;
      expect([second.id, second.data.length, second.data[0]]).toEqual([round, 1, (round + 1) & 0xff]);
    }
  });

  test("small items held open while another queue's traffic passes between them hold memory in proportion to their bytes", async () => {
    // The probe with reliable reads: each 1-byte item of `keep` is opened at once and never
    // closed (a client holding it), so it is in no queue's item list. It used to hold its slab,
    // unseen by the counts: 512 of them 32 MiB.
    const keep = memoryQueue("keep");
    const churn = memoryQueue("churn");
    const held: Item[] = [];
    const sent: Uint8Array[] = [];
    await releasesDone();
    const liveBefore = liveBytes();
    // Enough rounds that the slabs the open items would pin are past the trigger (512 in a process of its own).
    const rounds = roundsPastTrigger(512);
    for (let round = 1; round <= rounds; round++) {
      const read = socketRead(round);
      keep.add(read.subarray(0, 1), 0, NOW);
      const item = keep.open(NOW)!;
      held.push(item);
      // A reply being written names the bytes it was given, whatever becomes of the item.
      sent.push(item.data);
      for (let offset = 1; offset + 100 <= SLAB; offset += 100) {
        churn.add(read.subarray(offset, offset + 100), 0, NOW);
        churn.remove(NOW);
      }
      if (round % 32 === 0) await evacuationSettled();
    }
    await evacuationSettled();
    expect(liveBytes() - liveBefore).toBe(rounds);
    expect(heldBytes()).toBeLessThanOrEqual(liveBytes() * 1.5 + WASTE_SLACK_BYTES);
    // What the open items' bytes really keep: every buffer any of them names.
    const buffers = new Set(held.map((item) => item.data.buffer));
    const pinned = [...buffers].reduce((sum, buffer) => sum + buffer.byteLength, 0);
    // After the last round, waste builds up again to the trigger: half the live bytes other tests left, at most.
    expect(pinned).toBeLessThanOrEqual(rounds * 1.5 + WASTE_SLACK_BYTES + liveBefore / 2);
    held.forEach((item, i) => {
      expect([item.data.length, item.data[0], sent[i]!.length, sent[i]![0]]).toEqual([1, (i + 1) & 0xff, 1, (i + 1) & 0xff]);
      expect(keep.isOpen(item)).toBe(true);
    });
    // Closed, aborted: the same objects still settle, with their bytes.
    keep.confirm(held[0]!);
    keep.abort(held[1]!, NOW);
    expect(keep.isOpen(held[0]!) || keep.isOpen(held[1]!)).toBe(false);
    expect(keep.remove(NOW)!.data[0]).toBe(2);
    keep.destroy();
    churn.destroy();
    expect(liveBytes()).toBe(liveBefore);
  });

  test("moved items keep their order, fields and bytes; shared bytes stay shared; counts come back whole", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            list: fc.nat({ max: 2 }),
            op: fc.constantFrom("push", "pushShared", "shift", "unshift", "peek", "expire", "relocate"),
            length: fc.integer({ min: 0, max: 300 }),
          }),
          { minLength: 40, maxLength: 200 },
        ),
        (steps) => {
          const homes = homeCount();
          const held = heldBytes();
          const live = liveBytes();
          const lists = [new ItemBlocks(), new ItemBlocks(), new ItemBlocks()];
          const models: Item[][] = [[], [], []];
          let next = 1;
          let read = socketRead(0);
          let used = 0;
          const bytesOf = (length: number): Uint8Array => {
            if (used + length > read.length) [read, used] = [socketRead(next), 0];
            used += length;
            return read.subarray(used - length, used);
          };
          for (const { list, op, length } of steps) {
            const l = lists[list]!;
            const m = models[list]!;
            if (op === "push" || op === "pushShared") {
              const item: Item = { id: next, addTime: next * 10, expiry: next % 2 === 0 ? 0 : next, flags: next, data: bytesOf(length) };
              next++;
              l.push(item);
              m.push(item);
              if (op === "pushShared") {
                const other = (list + 1) % 3;
                lists[other]!.push(item);
                models[other]!.push(item);
              }
            } else if (op === "shift") {
              expect(same(l.shift(), m.shift())).toBe(true);
            } else if (op === "unshift" && m.length > 0) {
              const item = l.shift()!;
              m.shift();
              l.unshift(item);
              m.unshift(item);
            } else if (op === "peek") {
              expect(same(l.peek(), m[0])).toBe(true);
            } else if (op === "expire") {
              l.removeExpired(null, (expiry) => expiry !== 0 && expiry % 3 === 0, () => true, () => false);
              models[list] = m.filter((it) => !(it.expiry !== 0 && it.expiry % 3 === 0));
            } else if (op === "relocate") {
              // Every sparse item moves into a buffer of its own, a step of one block at a time; bytes shared move once.
              const copies = new Map<string, Uint8Array>();
              const moveOut = (home: number, offset: number, size: number): Uint8Array => {
                const key = `${home}:${offset}:${size}`;
                let copy = copies.get(key);
                if (copy === undefined) copies.set(key, (copy = new Uint8Array(bytesAt(home, offset, size))));
                return copy;
              };
              for (const each of lists) {
                let place = each.relocate(null, moveOut, () => true);
                while (place !== null) place = each.relocate(place, moveOut, () => true);
              }
            }
            for (let i = 0; i < 3; i++) expect([...lists[i]!].every((it, at) => same(it, models[i]![at]))).toBe(true);
          }
          // Bytes two lists shared are still one copy: the same buffer and offset in both.
          for (const item of models[0]!) {
            const other = models[1]!.indexOf(item);
            if (other < 0) continue;
            const a = [...lists[0]!][models[0]!.indexOf(item)]!.data;
            const b = [...lists[1]!][other]!.data;
            expect(a.buffer === b.buffer && a.byteOffset === b.byteOffset).toBe(true);
          }
          for (const l of lists) l.clear();
          expect([homeCount(), heldBytes(), liveBytes()]).toEqual([homes, held, live]);
        },
      ),
    );
  });
});

/** A queue without a journal, with the default settings. */
function memoryQueue(name: string): PersistentQueue {
  return new PersistentQueue(name, { ...DEFAULT_QUEUE_CONFIG, journal: false }, null, { items: [], disk: null, nextId: 1 }, { expired: () => null });
}

/** The same item: fields equal, bytes equal (wherever they are). */
function same(a: Item | undefined, b: Item | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.id === b.id && a.addTime === b.addTime && a.expiry === b.expiry && a.flags === b.flags && Buffer.from(a.data).equals(Buffer.from(b.data));
}
