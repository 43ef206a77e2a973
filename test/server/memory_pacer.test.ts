import { describe, expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { MemoryPacer } from "../../src/server/memory_pacer.ts";

const MiB = 1024 * 1024;

/**
 * A pacer over a fake resident set that a collection brings back to `live` (a background one
 * too: here it has finished by the time anyone looks).
 */
function fakePacer(startMiB: number) {
  // A full collection's pause: `pauseMsPerMiB` of live data.
  const state = { resident: startMiB * MiB, live: startMiB * MiB, collections: 0, full: 0, background: 0, clock: 0, pauseMsPerMiB: 0.1, churn: 0 };
  const pacer = new MemoryPacer({
    queueChurn: () => state.churn,
    residentBytes: () => state.resident,
    now: () => state.clock,
    collectFull: () => {
      state.collections++;
      state.full++;
      state.clock += (state.pauseMsPerMiB * state.live) / MiB;
      state.resident = state.live;
    },
    collectInBackground: () => {
      state.collections++;
      state.background++;
      state.resident = state.live;
    },
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
    expect([state.background, state.full]).toEqual([1, 1]); // traffic's in the background, the quiet one full
  });

  test("queues made with little traffic (a get naming 100 new fanout children) make the next quiet second collect", () => {
    const { pacer, state } = fakePacer(40);
    pacer.traffic(2 * 1024); // five gets' worth
    pacer.idle();
    expect(state.full).toBe(0);
    state.churn += 500;
    state.resident = 46 * MiB; // their garbage, under the growth allowance
    pacer.idle();
    expect(state.full).toBe(1);
    expect(state.resident).toBe(40 * MiB);
    pacer.idle();
    expect(state.full).toBe(1); // once
  });

  test("a quiet full collection that stopped the server too long is not made again while the live data is as big; once it shrank, it is", () => {
    const { pacer, state } = fakePacer(40);
    state.pauseMsPerMiB = 0.25; // 200 MiB live: a 50 ms pause
    state.live = state.resident = 200 * MiB;
    const busyThenQuiet = () => {
      pacer.traffic(MiB);
      pacer.idle(); // busy
      pacer.traffic(1000);
      pacer.idle(); // the first quiet second
    };
    busyThenQuiet();
    expect([state.full, pacer.quietCollectionsSkipped]).toEqual([1, 0]); // the first is made and timed: 50 ms
    pacer.traffic(8 * MiB); // settles at 200 MiB
    state.resident = 205 * MiB; // garbage of the next burst
    busyThenQuiet();
    expect([state.full, pacer.quietCollectionsSkipped]).toEqual([1, 1]);
    expect(state.resident).toBe(205 * MiB);
    // Queues deleted: the live data falls to 60 MiB, and a background collection shows it (the floor).
    state.live = state.resident = 60 * MiB;
    pacer.traffic(MiB);
    busyThenQuiet(); // 50 ms × 60 / 200 = 15 ms expected: made
    expect([state.full, pacer.quietCollectionsSkipped]).toEqual([2, 1]);
  });

  test("calibrated at start on big live data, the first quiet second makes no full collection it can't keep short", () => {
    const { pacer, state } = fakePacer(200);
    state.pauseMsPerMiB = 0.25; // 200 MiB live: a 50 ms pause
    pacer.calibrate();
    expect([state.full, pacer.collections]).toEqual([1, 1]);
    pacer.traffic(8 * MiB); // settles at 200 MiB
    state.resident = 210 * MiB;
    pacer.traffic(MiB);
    pacer.idle(); // busy
    pacer.traffic(1000);
    pacer.idle(); // the first quiet second
    expect([state.full, pacer.quietCollectionsSkipped]).toEqual([1, 1]);
  });

  test("without traffic, the once-a-second look gives back what a burst left behind", () => {
    const { pacer, state } = fakePacer(40);
    state.resident = 300 * MiB; // garbage of a burst, or of deleted queues
    pacer.idle();
    expect(state.collections).toBe(1);
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
      collectInBackground: () => void state.background++,
      idleCheckMs: 0,
      now: () => 0,
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

test("an idle look that throws (a bug) is logged once; the next look comes as usual", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  let looks = 0;
  const { promise: again, resolve } = Promise.withResolvers<void>();
  const pacer = new MemoryPacer({
    residentBytes: () => 40 * MiB,
    collectFull: () => {},
    collectInBackground: () => {},
    now: () => 0,
    // Read at every idle look: the first one throws.
    queueChurn: () => {
      if (++looks === 1) throw new Error("a bug in a look");
      resolve();
      return 0;
    },
    idleCheckMs: 1,
  });
  try {
    await again;
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error looking at the memory in use: a bug in a look"]);
  } finally {
    pacer.stop();
    logged.mockRestore();
  }
});
