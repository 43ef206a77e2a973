import { afterEach, expect, test } from "bun:test";
import { takeSnapshotInTurns, type Snapshot } from "../../src/server/snapshot.ts";
import { bytes } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { countStatsReads } from "../helpers/queues.ts";
import { serverContext } from "../helpers/server_context.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function contextWith(count: number) {
  const { ctx, queues } = serverContext(configFor(tempDir()));
  closers.push(() => queues.close());
  for (let i = 0; i < count; i++) queues.add(`q${i}`, bytes("x".repeat(i + 1)), 0, Date.now());
  return ctx;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** A snapshot taken in one go: a slice with no end. */
function takeSnapshot(ctx: Parameters<typeof takeSnapshotInTurns>[0]): Snapshot {
  const results: Array<Snapshot | Error> = [];
  takeSnapshotInTurns(ctx, (done) => results.push(done), Infinity);
  const result = results[0];
  if (result === undefined || result instanceof Error) throw new Error("expected a snapshot at once");
  return result;
}
/** A snapshot's queues by name, without `age` (it moves with the clock). */
const byName = (snapshot: Snapshot) =>
  [...snapshot.queues].sort((a, b) => (a.name < b.name ? -1 : 1)).map((queue) => ({ ...queue, stats: { ...queue.stats, age: 0 } }));

test("a snapshot gathered over turns holds what one taken at once holds; a queue deleted before its turn is left out", async () => {
  const ctx = contextWith(40);
  let result: Snapshot | Error | null = null;
  // No time per slice: one queue a turn.
  takeSnapshotInTurns(ctx, (done) => (result = done), 0);
  expect(result).toBeNull();
  const gone = [...ctx.queues.all()].at(-1)!.name;
  ctx.queues.delete(gone);
  while (result === null) await turn();
  const atOnce = takeSnapshot(ctx);
  const gathered = result as Snapshot;
  expect(byName(gathered)).toEqual(byName(atOnce));
  expect(gathered.queues.some((queue) => queue.name === gone)).toBe(false);
  expect(new Map(gathered.server).get("curr_items")).toBe(new Map(atOnce.server).get("curr_items"));
  expect(new Map(gathered.server).get("total_items")).toBe(40); // the deleted queue's item counted once
  expect(new Map(atOnce.server).get("total_items")).toBe(40);
});

test("the server's totals are summed in the same round: no turn reads every queue's figures", async () => {
  const ctx = contextWith(40);
  const count = countStatsReads(ctx.queues);
  let result: Snapshot | Error | null = null;
  takeSnapshotInTurns(ctx, (done) => (result = done), 0);
  let mostInATurn = count.reads;
  while (result === null) {
    const before = count.reads;
    await turn();
    mostInATurn = Math.max(mostInATurn, count.reads - before);
  }
  expect(count.reads).toBe(40);
  expect(mostInATurn).toBe(1);
  expect(new Map((result as Snapshot).server).get("curr_items")).toBe(40);
});

test("stopped early, it never calls back; a queue whose figures throw ends it with the error", async () => {
  const ctx = contextWith(10);
  let called = false;
  const stop = takeSnapshotInTurns(ctx, () => (called = true), 0);
  stop();
  for (let i = 0; i < 20; i++) await turn();
  expect(called).toBe(false);

  const queue = [...ctx.queues.all()][3]!;
  queue.stats = () => {
    throw new Error("a bug");
  };
  let result: Snapshot | Error | null = null;
  takeSnapshotInTurns(ctx, (done) => (result = done), 0);
  while (result === null) await turn();
  expect((result as unknown as Error).message).toBe("a bug");
});
