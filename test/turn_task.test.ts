import { expect, spyOn, test } from "bun:test";
import { log } from "../src/log.ts";
import { turnTask } from "../src/turn_task.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test("a task runs once in a later turn, however often it is asked for before then", async () => {
  let runs = 0;
  const task = turnTask("counting runs", () => runs++);
  task();
  task();
  expect(runs).toBe(0);
  await turn();
  expect(runs).toBe(1);
  await turn();
  expect(runs).toBe(1);
});

test("a task that throws (a bug) is logged once, naming it; asked for again, it runs again", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    let runs = 0;
    const task = turnTask("running a test's loop", () => {
      if (++runs === 1) throw new Error("a bug in a loop");
    });
    task();
    await turn();
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error running a test's loop: a bug in a loop"]);
    task();
    await turn();
    expect(runs).toBe(2);
  } finally {
    logged.mockRestore();
  }
});
