import { describe, expect, test } from "bun:test";
import { MemoryPacer } from "../../src/server/memory_pacer.ts";

const MiB = 1024 * 1024;

/** A pacer over a fake resident set that a collection brings back to `live`. */
function fakePacer(startMiB: number) {
  const state = { resident: startMiB * MiB, live: startMiB * MiB, collections: 0 };
  const pacer = new MemoryPacer(
    () => state.resident,
    () => {
      state.collections++;
      state.resident = state.live;
    },
  );
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

  test("asks for a collection without waiting for it, and reads what it left 8 MiB of traffic later", () => {
    const state = { resident: 40 * MiB };
    let asked = 0;
    const lazy = new MemoryPacer(
      () => state.resident,
      () => void asked++, // the collection happens later, on its own
    );
    state.resident = 100 * MiB;
    lazy.traffic(MiB);
    expect(asked).toBe(1);
    state.resident = 60 * MiB; // what it left, once done
    lazy.traffic(7 * MiB);
    expect(asked).toBe(1);
    lazy.traffic(MiB); // settled: 60 MiB is the new floor
    state.resident = 65 * MiB;
    lazy.traffic(MiB);
    expect(asked).toBe(1);
    state.resident = 69 * MiB;
    lazy.traffic(MiB);
    expect(asked).toBe(2);
    expect(lazy.collections).toBe(2);
  });

  test("looks at memory only once per megabyte of traffic", () => {
    const { pacer, state } = fakePacer(40);
    state.resident = 100 * MiB;
    for (let i = 0; i < 1023; i++) pacer.traffic(1024);
    expect(state.collections).toBe(0);
    pacer.traffic(1024);
    expect(state.collections).toBe(1);
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
});
