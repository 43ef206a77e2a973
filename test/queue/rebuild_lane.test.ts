/** The rebuild lane (src/queue/rebuild_lane.ts): a bounded number of rebuilds over turns in flight, the rest started in order in later turns. */
import { expect, test } from "bun:test";
import { MAX_IN_FLIGHT, inRebuildLane, rebuildsInFlight } from "../../src/queue/rebuild_lane.ts";

const turn = () => new Promise((resolve) => setImmediate(resolve));

test("at most MAX_IN_FLIGHT rebuilds run at once; the others start in order, in a later turn, as slots free up; a second done changes nothing", async () => {
  const started: number[] = [];
  const dones: Array<() => void> = [];
  for (let i = 0; i < MAX_IN_FLIGHT + 3; i++) {
    inRebuildLane((done) => {
      started.push(i);
      dones.push(done);
    });
  }
  expect(started).toEqual(Array.from({ length: MAX_IN_FLIGHT }, (_, i) => i));
  expect(rebuildsInFlight()).toBe(MAX_IN_FLIGHT);
  dones[0]!();
  dones[0]!();
  expect(started.length).toBe(MAX_IN_FLIGHT); // not in the turn that freed the slot
  await turn();
  expect(started.at(-1)).toBe(MAX_IN_FLIGHT);
  expect(rebuildsInFlight()).toBe(MAX_IN_FLIGHT);
  dones[1]!();
  dones[2]!();
  await turn();
  expect(started.slice(MAX_IN_FLIGHT)).toEqual([MAX_IN_FLIGHT, MAX_IN_FLIGHT + 1, MAX_IN_FLIGHT + 2]);
  for (const done of dones) done();
  expect(rebuildsInFlight()).toBe(0);
});

test("a start that starts nothing gives its slot back at once", () => {
  let ran = false;
  inRebuildLane((done) => {
    ran = true;
    done();
  });
  expect(ran).toBe(true);
  expect(rebuildsInFlight()).toBe(0);
});

test("a rebuild that comes while others wait for a slot waits behind them, even in the turn a slot was freed", async () => {
  const started: string[] = [];
  const dones: Array<() => void> = [];
  const start = (name: string) => (done: () => void) => {
    started.push(name);
    dones.push(done);
  };
  for (let i = 0; i < MAX_IN_FLIGHT; i++) inRebuildLane(start(`first ${i}`));
  inRebuildLane(start("waiting"));
  dones[0]!(); // a slot is free; the waiting one starts in a later turn
  inRebuildLane(start("newcomer"));
  await turn();
  expect(started.slice(MAX_IN_FLIGHT)).toEqual(["waiting"]);
  for (const done of dones) done();
  await turn();
  expect(started.slice(MAX_IN_FLIGHT)).toEqual(["waiting", "newcomer"]);
  for (const done of dones) done();
  expect(rebuildsInFlight()).toBe(0);
});
