import { expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { TURN_MS, later, soon, turnDeadline } from "../../src/server/turn_scheduler.ts";

const busyFor = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

test("waiting connections run in the order they were queued, as many per round as its budget allows", async () => {
  /** Each run's id and its turn (runs of one turn share its deadline). */
  const ran: Array<{ id: number; turn: number }> = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // Each run takes more than half a turn's budget: at most two fit in one round.
  const runFor = (id: number, again: boolean) => () => {
    ran.push({ id, turn: turnDeadline() });
    busyFor(TURN_MS * 0.6);
    if (again) later(runFor(id + 100, false)); // more work: back of the line
    if (ran.length === 12) done();
  };
  for (let id = 0; id < 6; id++) later(runFor(id, true));
  expect(ran).toEqual([]); // nothing runs before a round
  await finished;
  expect(ran.map((run) => run.id)).toEqual([0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105]);
  const perTurn = new Map<number, number>();
  for (const run of ran) perTurn.set(run.turn, (perTurn.get(run.turn) ?? 0) + 1);
  expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2);
  expect(perTurn.size).toBeGreaterThanOrEqual(6);
});

test("a run that throws (a bug), in either lane, is logged once and the runs queued after it still run", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const ran: string[] = [];
    const bug = (lane: string) => () => {
      throw new Error(`a bug in a ${lane} run`);
    };
    soon(bug("prompt"));
    soon(() => ran.push("prompt"));
    later(bug("busy"));
    later(() => ran.push("busy"));
    await new Promise<void>((resolve) => later(resolve));
    expect(ran).toEqual(["prompt", "busy"]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual([
      "internal error running work queued for a turn: a bug in a prompt run",
      "internal error running work queued for a turn: a bug in a busy run",
    ]);
  } finally {
    logged.mockRestore();
  }
});
