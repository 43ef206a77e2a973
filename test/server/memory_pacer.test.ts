import { describe, expect, test } from "bun:test";
import { BACKGROUND_SPELL, FULL_PAUSE_LIMIT_MS, MemoryPacer } from "../../src/server/memory_pacer.ts";

const MiB = 1024 * 1024;

/**
 * A pacer over a fake resident set that a full collection brings back to `live` at once, taking
 * `fullMs` of a fake clock; a background one too (here it has finished by the time anyone looks).
 */
function fakePacer(startMiB: number, fullMs = 2) {
  const state = { resident: startMiB * MiB, live: startMiB * MiB, collections: 0, full: 0, background: 0, clock: 0, fullMs };
  const pacer = new MemoryPacer({
    residentBytes: () => state.resident,
    collectFull: () => {
      state.collections++;
      state.full++;
      state.clock += state.fullMs;
      state.resident = state.live;
    },
    collectInBackground: () => {
      state.collections++;
      state.background++;
      state.resident = state.live;
    },
    now: () => state.clock,
    idleCheckMs: 0,
  });
  return { pacer, state };
}

describe("MemoryPacer", () => {
  test("collects once memory has grown past the floor by the allowance, and only then", () => {
    const { pacer, state } = fakePacer(40);
    state.resident = 47 * MiB;
    pacer.traffic(4 * MiB);
    expect(state.collections).toBe(0);
    state.resident = 49 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(1);
    expect(pacer.collections).toBe(1);
    expect(state.resident).toBe(40 * MiB);
  });

  test("reads what a collection left 8 MiB of traffic later: that is the new floor", () => {
    const { pacer, state } = fakePacer(40);
    state.live = state.resident = 100 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(1);
    state.resident = 60 * MiB; // what it left, once settled
    pacer.traffic(7 * MiB);
    expect(state.collections).toBe(1);
    pacer.traffic(MiB); // settled: 60 MiB is the new floor
    state.resident = 65 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(1);
    state.resident = 69 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(2);
    expect(pacer.collections).toBe(2);
  });

  test("collects fully while full collections are short; after a long one, in the background for a spell", () => {
    const { pacer, state } = fakePacer(40);
    const grow = () => {
      state.resident = state.live + 20 * MiB;
      pacer.traffic(MiB); // collects
      pacer.traffic(8 * MiB); // settles
    };
    grow();
    expect([state.full, state.background]).toEqual([1, 0]);
    state.fullMs = FULL_PAUSE_LIMIT_MS + 1;
    grow(); // full, but too long
    expect([state.full, state.background]).toEqual([2, 0]);
    for (let i = 0; i < BACKGROUND_SPELL; i++) grow();
    expect([state.full, state.background]).toEqual([2, BACKGROUND_SPELL]);
    state.fullMs = 1;
    grow(); // a full one is tried again
    expect([state.full, state.background]).toEqual([3, BACKGROUND_SPELL]);
  });

  test("the first quiet second after traffic collects once, whatever the floor: live data may have shrunk", () => {
    const { pacer, state } = fakePacer(40);
    state.live = state.resident = 140 * MiB; // queues filled: the floor follows
    pacer.traffic(MiB);
    pacer.traffic(8 * MiB);
    expect(state.collections).toBe(1);
    state.live = 45 * MiB; // the queues were deleted, their memory is garbage now
    pacer.traffic(200 * 1024);
    pacer.idle(); // a busy second: within the allowance, nothing
    expect(state.collections).toBe(1);
    pacer.traffic(1000); // a health check's pings
    pacer.idle(); // the first quiet second
    expect(state.collections).toBe(2);
    expect(state.resident).toBe(45 * MiB);
    pacer.traffic(1000);
    pacer.idle();
    pacer.idle(); // still quiet: once is enough
    expect(state.collections).toBe(2);
    expect(state.background).toBe(0);
  });

  test("the quiet collection is a full one even while long full ones made traffic's collections background ones", () => {
    const { pacer, state } = fakePacer(40, FULL_PAUSE_LIMIT_MS + 5);
    state.resident = 100 * MiB;
    pacer.traffic(MiB); // a long full collection
    pacer.traffic(8 * MiB); // settles
    state.live = 40 * MiB;
    state.resident = 130 * MiB;
    pacer.traffic(MiB); // a background one now
    expect([state.full, state.background]).toEqual([1, 1]);
    pacer.traffic(8 * MiB); // settles at 40 MiB
    state.live = 30 * MiB; // queues deleted: within the allowance, no collection for traffic
    state.resident = 45 * MiB;
    pacer.idle(); // busy
    expect([state.full, state.background]).toEqual([1, 1]);
    pacer.idle(); // quiet
    expect([state.full, state.background]).toEqual([2, 1]);
    expect(state.resident).toBe(30 * MiB);
  });

  test("without traffic, the once-a-second look gives back what a burst left behind", () => {
    const { pacer, state } = fakePacer(40);
    state.resident = 300 * MiB; // garbage of a burst, or of deleted queues
    pacer.idle();
    expect(state.full).toBe(1);
    expect(state.resident).toBe(40 * MiB);
    pacer.idle(); // settles
    pacer.idle();
    expect(state.collections).toBe(1);
  });

  test("looks at memory only once per megabyte of traffic", () => {
    const { pacer, state } = fakePacer(40);
    state.resident = 100 * MiB;
    for (let i = 0; i < 1023; i++) pacer.traffic(1024);
    expect(state.collections).toBe(0);
    pacer.traffic(1024);
    expect(state.collections).toBe(1);
  });

  test("each request counts as 1 KiB toward the next look (deletes make garbage out of proportion to their bytes), not as traffic", () => {
    const { pacer, state } = fakePacer(40);
    state.resident = 100 * MiB;
    for (let i = 0; i < 1023; i++) pacer.request();
    expect(state.collections).toBe(0);
    pacer.request();
    expect(state.collections).toBe(1);
    pacer.traffic(8 * MiB); // settles
    pacer.idle(); // that was a busy second
    for (let i = 0; i < 5000; i++) pacer.request(); // many small requests: a quiet second still
    state.live = 30 * MiB;
    pacer.idle();
    expect(state.collections).toBe(2);
    expect(state.resident).toBe(30 * MiB);
  });

  test("the allowance follows the live data: growth that survives a collection raises the floor", () => {
    const { pacer, state } = fakePacer(40);
    state.live = state.resident = 200 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(1);
    pacer.traffic(8 * MiB); // settled at 200 MiB
    state.resident = 215 * MiB; // under 10% above the new floor of 200 MiB
    pacer.traffic(MiB);
    expect(state.collections).toBe(1);
    state.resident = 221 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(2);
  });

  test("the floor drops when memory does, so a drained server is held closer again", () => {
    const { pacer, state } = fakePacer(100);
    state.live = state.resident = 50 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(0);
    state.resident = 59 * MiB;
    pacer.traffic(MiB);
    expect(state.collections).toBe(1);
  });

  test("a resident set that can't be read (no file descriptor for /proc) skips the look, never throws", () => {
    const { pacer, state } = fakePacer(40);
    let failing = true;
    const flaky = new MemoryPacer({
      residentBytes: () => {
        if (failing) throw new Error("EMFILE: too many open files, open '/proc/self/statm'");
        return state.resident;
      },
      collectFull: () => void state.full++,
      idleCheckMs: 0,
    });
    state.resident = 500 * MiB;
    expect(() => flaky.traffic(MiB)).not.toThrow();
    expect(() => flaky.idle()).not.toThrow();
    expect(state.full).toBe(0);
    failing = false;
    flaky.idle();
    expect(state.full).toBe(1);
    expect(pacer.collections).toBe(0);
  });
});
