/**
 * queue_path deleted under running queues that hold every item in memory: the routine upkeep
 * rebuilds each journal over turns (Journal.rebuildInTurns), with no fsync in the turn (3,000
 * rebuilds of six fsyncs each stalled the server for seconds, issue 9). Sets while a rebuild runs
 * are kept (in memory, whatever the budget) and acknowledged once written to the new journal; an
 * fsync failing off the event loop fails the journal until the next upkeep rebuilds it again; a
 * flush meanwhile is refused (nothing dropped), a delete takes every file, and a thorough upkeep
 * puts a rebuild under way in place at once.
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import type { KestrelConfig } from "../../src/config/load.ts";
import { onceDurable, type Commit } from "../../src/journal/commit.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { rebuildsInFlight } from "../../src/queue/rebuild_lane.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const faults = FaultInjector.install();
afterEach(() => faults.clear());
afterAll(() => faults.uninstall());

const NOW = Date.now();
const NAMES = ["a", "b", "c"];
const CONFIG = 'max_memory_size = "2KiB"\nexpiration_timer_frequency = 0\n';
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Queues a, b, c holding items 0..count-1 of 100 bytes each, all in memory. */
function loaded(config: KestrelConfig, count: number): QueueCollection {
  const queues = QueueCollection.load(config);
  for (const name of NAMES) for (const i of range(0, count)) queues.add(name, bytes(`${i}:`.padEnd(100, "x")), 0, NOW);
  flushJournals();
  return queues;
}

/** Waits turn by turn (the fsyncs return off the event loop) until `done`; throws after 10 s. */
async function turnsUntil(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const durable = (commit: Commit) => new Promise<string>((resolve) => onceDurable(commit, () => resolve(commit.state)));

/** The ids each queue serves after a restart on `config`'s directory. */
function afterRestart(config: KestrelConfig): string[][] {
  const queues = QueueCollection.load(config);
  const out = NAMES.map((name) => {
    const queue = queues.getOrCreate(name);
    const ids: string[] = [];
    for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) ids.push(text(item.data).split(":")[0]!);
    return ids;
  });
  queues.close();
  return out;
}

test("queue_path deleted: the routine upkeep rebuilds every journal with no fsync in the turn; sets meanwhile are kept in memory and acknowledged; a restart replays it all", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const queues = loaded(config, 10);
  rmSync(dir, { recursive: true, force: true });
  const realFsync = fileSystem.fsync;
  let fsyncsInTurn = 0;
  fileSystem.fsync = (fd) => (fsyncsInTurn++, realFsync(fd));
  try {
    for (const name of NAMES) queues.get(name)!.maintainJournal(false);
  } finally {
    fileSystem.fsync = realFsync;
  }
  expect(fsyncsInTurn).toBe(0);
  expect(NAMES.map((name) => queues.get(name)!.journalRebuilding)).toEqual([true, true, true]);
  // Over the 2 KiB budget: kept in memory while the rebuild runs (no position in its new journal yet).
  const sets = NAMES.map((name) => queues.add(name, bytes("100:".padEnd(100, "x")), 0, NOW));
  flushJournals();
  for (const set of sets) expect(typeof set).not.toBe("string");
  await turnsUntil("the rebuilds", () => NAMES.every((name) => !queues.get(name)!.journalRebuilding));
  expect(await Promise.all(sets.map((set) => durable(set as Commit)))).toEqual(["durable", "durable", "durable"]);
  expect(NAMES.map((name) => queues.get(name)!.journalFailure)).toEqual([null, null, null]);
  expect(NAMES.map((name) => queues.get(name)!.stats().items)).toEqual([11, 11, 11]);
  expect(readdirSync(dir).filter((name) => name.endsWith(".pack") || name.endsWith(".tmp"))).toEqual([]);
  queues.close();
  const all = [...range(0, 10).map(String), "100"];
  expect(afterRestart(config)).toEqual([all, all, all]);
});

test("an fsync failing off the event loop during the rebuild: the journal fails (sets refused), the next upkeep rebuilds it; nothing acknowledged is lost", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const queues = loaded(config, 5);
  rmSync(dir, { recursive: true, force: true });
  faults.set([{ op: "fsyncAsync", code: "EIO", path: "/\\.a\\.\\d+\\.pack\\.\\d+\\.\\d+\\.tmp$", times: 1 }]);
  for (const name of NAMES) queues.get(name)!.maintainJournal(false);
  const during = queues.add("a", bytes("100:".padEnd(100, "x")), 0, NOW);
  if (typeof during === "string") throw new Error(during);
  flushJournals();
  await turnsUntil("the rebuilds", () => NAMES.every((name) => !queues.get(name)!.journalRebuilding));
  expect(faults.hits).toBe(1);
  expect(queues.get("a")!.journalFailure).toContain("EIO");
  expect([queues.get("b")!.journalFailure, queues.get("c")!.journalFailure]).toEqual([null, null]);
  expect(during.state).toBe("failed"); // its reply waits for the retry
  faults.clear();
  queues.get("a")!.maintainJournal(false); // the next upkeep
  await turnsUntil("the second rebuild", () => !queues.get("a")!.journalRebuilding);
  expect(queues.get("a")!.journalFailure).toBeNull();
  expect(await durable(during.retry!)).toBe("durable");
  queues.close();
  const restarted = afterRestart(config);
  expect(restarted[0]).toEqual([...range(0, 5).map(String), "100"]);
  expect(restarted.slice(1)).toEqual([range(0, 5).map(String), range(0, 5).map(String)]);
});

test("while a rebuild runs a flush is refused with nothing dropped; a thorough upkeep puts the rebuild in place at once", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const queues = loaded(config, 4);
  rmSync(dir, { recursive: true, force: true });
  const queue = queues.get("a")!;
  queue.maintainJournal(false);
  expect(queue.journalRebuilding).toBe(true);
  const flushed = queue.flush();
  expect(flushed.state).toBe("failed");
  expect(flushed.error).toContain("being rebuilt");
  expect(queue.stats().items).toBe(4);
  queues.maintainJournals(); // thorough: a's rebuild finished now, b's and c's made in the call
  expect(NAMES.map((name) => queues.get(name)!.journalRebuilding)).toEqual([false, false, false]);
  expect(NAMES.map((name) => readdirSync(dir).includes(name))).toEqual([true, true, true]);
  expect(await durable(queue.flush())).toBe("durable");
  expect(queue.stats().items).toBe(0);
  queues.close();
  expect(afterRestart(config)).toEqual([[], range(0, 4).map(String), range(0, 4).map(String)]);
});

test("a queue deleted while its rebuild runs: every file of it goes, the rebuild is given up; the others are rebuilt", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const queues = loaded(config, 4);
  rmSync(dir, { recursive: true, force: true });
  for (const name of NAMES) queues.get(name)!.maintainJournal(false);
  queues.delete("a");
  await turnsUntil("the rebuilds", () => ["b", "c"].every((name) => !queues.get(name)!.journalRebuilding));
  await backgroundRemovals();
  expect(readdirSync(dir).filter((name) => name === "a" || name.startsWith("a.") || name.startsWith(".a."))).toEqual([]);
  expect(rebuildsInFlight()).toBe(0); // a's slot in the rebuild lane given back
  queues.close();
  expect(afterRestart(config)).toEqual([[], range(0, 4).map(String), range(0, 4).map(String)]);
});
