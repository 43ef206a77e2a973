import { describe, expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { Outbox } from "../../src/server/outbox.ts";
import { CHECK_AFTER_BYTES, CHECK_EVERY, outsideTurn } from "../../src/server/outside_turn.ts";
import { MAX_OVERRUN_MS, TURN_MS } from "../../src/server/turn_scheduler.ts";
import { steppedTurnClock } from "../helpers/turn_clock.ts";

/** Resolves after the microtasks queued before it. */
const microtasks = (): Promise<void> => new Promise<void>((resolve) => queueMicrotask(resolve));

describe("outsideTurn", () => {
  const clock = steppedTurnClock(0.001);

  test("runs each given run once, in order, in a microtask, runs given meanwhile included; before the overrun none is told it", async () => {
    const ran: Array<[number, boolean]> = [];
    for (let n = 0; n < 20; n++) outsideTurn((overrun) => ran.push([n, overrun]));
    outsideTurn(() => outsideTurn((overrun) => ran.push([99, overrun])));
    expect(ran).toEqual([]);
    await microtasks();
    expect(ran).toEqual([...Array.from({ length: 20 }, (_, n): [number, boolean] => [n, false]), [99, false]]);
  });

  test("once the turn has overrun, every run left is told so; the clock is looked at once per CHECK_EVERY runs", async () => {
    // Each look moves the clock 1 ms on: the first opens a turn, whose overrun (MAX_OVERRUN_MS
    // past its TURN_MS budget) the eleventh look sees.
    clock.step = 1;
    expect(TURN_MS + MAX_OVERRUN_MS).toBe(10);
    const told: boolean[] = [];
    const runs = 12 * CHECK_EVERY;
    for (let n = 0; n < runs; n++) outsideTurn((overrun) => told.push(overrun));
    await microtasks();
    expect(told.length).toBe(runs);
    expect(told.indexOf(true)).toBe(10 * CHECK_EVERY);
    expect(told.slice(10 * CHECK_EVERY).every((overrun) => overrun)).toBe(true);
  });

  test("after runs that wrote CHECK_AFTER_BYTES to their sockets the clock is looked at again, before CHECK_EVERY runs", async () => {
    // As above, each look moves the clock 1 ms on: the eleventh look sees the overrun. Each run
    // writes a reply of CHECK_AFTER_BYTES (a big item answered as its journal write settled).
    clock.step = 1;
    const out = new Outbox({ write: (_data, _offset, length) => length ?? _data.length });
    const reply = new Uint8Array(CHECK_AFTER_BYTES);
    const told: boolean[] = [];
    for (let n = 0; n < 12 * CHECK_EVERY; n++) {
      outsideTurn((overrun) => {
        told.push(overrun);
        out.push(reply);
        out.flush(2 * CHECK_AFTER_BYTES);
      });
    }
    await microtasks();
    // A look after every run: the eleventh run is the first told (not the 10 * CHECK_EVERY + 1st).
    expect(told.indexOf(true)).toBe(10);
    expect(told.slice(10).every((overrun) => overrun)).toBe(true);
  });

  test("a run that throws (a bug) is logged once; the runs after it run in the same microtask", async () => {
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      const ran: number[] = [];
      outsideTurn(() => ran.push(1));
      outsideTurn(() => {
        throw new Error("a bug outside a turn");
      });
      outsideTurn(() => ran.push(3));
      await microtasks();
      expect(ran).toEqual([1, 3]);
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error running a connection's work outside its turn: a bug outside a turn"]);
    } finally {
      logged.mockRestore();
    }
  });
});
