/**
 * A big journal dropped by a flush (Journal.reset) or a delete (Journal.retire): the state that
 * replays to "empty" is committed first (a flush's pack is written and committed off the event
 * loop, while sets after it go on to the journal; a delete's empty pack in its turn, fsynced off
 * the event loop, while a new queue of the same name writes its own files), the old files are then
 * moved aside and deleted off the event loop (deferred_removal.ts). A crash at any step (the data directory copied before
 * each rename, delete, open or background delete, and loaded as the next start would) replays to
 * the queue as it was before (with what was set after the flush, after its items: the flush was
 * not answered yet), or to the flushed one with what was set after it, never to a mix: once the
 * flush is committed a flushed item never comes back, and a set after the flush is never lost.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import type { QueueCollection as Queues } from "../../src/queue/queue_collection.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { drainCopy, snapshotsAround } from "../helpers/dir_snapshots.ts";
import { settled } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CONFIG = `max_memory_size = "8KiB"\nmax_journal_size = "16KiB"\n`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function add(queues: Queues, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    queues.add("q", bytes(`${i}:`.padEnd(500, "x")), 0, Date.now());
    if (i % 20 === 19) flushJournals(); // a write each, so the journal rotates
  }
  flushJournals();
}

/** Before the commit, the whole queue as it was; from it on, the new state's items only, a prefix of them while the sets after are being written. */
function expectBeforeOrAfter(snapshots: readonly string[], before: readonly number[], after: readonly number[]): void {
  const outcomes = snapshots.map((copy) => drainCopy(copy, CONFIG));
  const firstAfter = outcomes.findIndex((outcome) => outcome.length !== before.length);
  expect(firstAfter).toBeGreaterThan(0);
  for (const outcome of outcomes.slice(0, firstAfter)) expect(outcome).toEqual([...before]);
  for (const outcome of outcomes.slice(firstAfter)) expect(outcome).toEqual(after.slice(0, outcome.length));
  expect(outcomes.at(-1)).toEqual([...after]);
}

/**
 * Each copy replays to the old queue `before` followed by some of the sets after (`sets`, a prefix
 * of them), until one replays to the new state, `kept` then the sets, and every later one does too;
 * some copy has the old queue with every set after it (they were written before the commit), and
 * the last one is the new state with every set.
 */
function expectOldThenNew(snapshots: readonly string[], before: readonly number[], kept: readonly number[], sets: readonly number[]): void {
  const outcomes = snapshots.map((copy) => drainCopy(copy, CONFIG));
  const isOld = (outcome: readonly number[]) => outcome.length >= before.length && outcome.slice(0, before.length).join() === before.join();
  const firstNew = outcomes.findIndex((outcome) => !isOld(outcome));
  expect(firstNew).toBeGreaterThan(0);
  for (const outcome of outcomes.slice(0, firstNew)) expect(outcome).toEqual([...before, ...sets.slice(0, outcome.length - before.length)]);
  expect(outcomes.slice(0, firstNew)).toContainEqual([...before, ...sets]);
  for (const outcome of outcomes.slice(firstNew)) expect(outcome).toEqual([...kept, ...sets]);
}

test("a flush of a journal of many segments: at every step the files replay to the queue before it or after it, sets after it included; then only the new files are left", async () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  add(queues, 0, 300);
  const queue = queues.get("q")!;
  const open = queue.open(Date.now())!; // item 0: kept by the flush, and back at the head after a restart
  expect(readdirSync(dir).filter((name) => name.startsWith("q.")).length).toBeGreaterThan(5);
  let setsBeforeCommit = false;
  const snapshots = await snapshotsAround(dir, async () => {
    const flushed = queue.flush();
    // The new state is written off the event loop: the sets after the flush go to the journal before it is committed.
    add(queues, 1000, 1005);
    setsBeforeCommit = flushed.state === "pending";
    await settled(flushed);
    expect(flushed.state).toBe("durable");
  });
  expect(setsBeforeCommit).toBe(true);
  expect(Number(text(open.data).split(":")[0])).toBe(0);
  // Before the commit: the queue as it was, then the sets after the flush; after it: the open item, then the sets.
  expectOldThenNew(snapshots, range(0, 300), [0], range(1000, 1005));
  // The background deletes were among the steps, and left no temp file behind.
  expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  queues.close();
});

test("a delete, then a set that makes the queue again while the old files are being deleted: at every step the files replay to the old queue, or to nothing but the new items", async () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  add(queues, 0, 300);
  expect(readdirSync(dir).filter((name) => name.startsWith("q.")).length).toBeGreaterThan(5);
  let oldFilesLeft = -1;
  const snapshots = await snapshotsAround(dir, async () => {
    queues.delete("q");
    // The old files are still there (the empty pack makes them replay to nothing) while the new queue writes its own.
    oldFilesLeft = readdirSync(dir).filter((name) => /^q\.\d+$/.test(name)).length;
    add(queues, 1000, 1005);
    await backgroundRemovals();
  });
  expect(oldFilesLeft).toBeGreaterThan(5);
  expectBeforeOrAfter(snapshots, range(0, 300), range(1000, 1005));
  expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  queues.close();
});
