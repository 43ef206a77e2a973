/**
 * queue_path deleted under running queues that hold every item in memory: the routine upkeep
 * rebuilds each journal over turns (Journal.rebuildInTurns), with no fsync in the turn (3,000
 * rebuilds of six fsyncs each stalled the server for seconds, issue 9). Sets while a rebuild runs
 * are kept in memory and acknowledged once written to the new journal, up to the queue's
 * max_memory_size (past it they are refused with SERVER_ERROR, so a slow disk can't make it grow); an
 * fsync failing off the event loop fails the journal until the next upkeep rebuilds it again; a
 * flush meanwhile is refused (nothing dropped), a delete takes every file, and a thorough upkeep
 * puts a rebuild under way in place at once. A queue with items waiting on disk is rebuilt over
 * turns too, a slice of them copied per turn, refusing sets and reading nothing back meanwhile.
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import type { KestrelConfig } from "../../src/config/load.ts";
import { Commit, onceDurable } from "../../src/journal/commit.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { ITEM_MEMORY_OVERHEAD } from "../../src/journal/item.ts";
import { CARRY_SLICE_BYTES } from "../../src/journal/tail_copy.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { rebuildsInFlight } from "../../src/queue/rebuild_lane.ts";
import { isFailure } from "../../src/server/commands/failure.ts";
import { setItem } from "../../src/server/commands/set_item.ts";
import { failure } from "../../src/server/memcache/replies.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { serverContext } from "../helpers/server_context.ts";
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
  // Kept in memory while the rebuild runs (no position in its new journal yet).
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

/** Holds every fsync done off the event loop until `release` (a slow disk); those held then go ahead, and later ones run at once. */
function holdAsyncFsyncs(): { release(): void } {
  const through = fileSystem.fsyncAsync;
  const held: Array<() => void> = [];
  fileSystem.fsyncAsync = (fd, done) => void held.push(() => through(fd, done));
  return {
    release() {
      fileSystem.fsyncAsync = through;
      for (const call of held.splice(0)) call();
    },
  };
}

test("sets to a queue whose rebuild is held up by a slow disk are refused with SERVER_ERROR once its memory reaches max_memory_size; every one acknowledged is there after the rebuild and a restart", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const { ctx, queues } = serverContext(config);
  for (const i of range(0, 10)) queues.add("a", bytes(`${i}:`.padEnd(100, "x")), 0, NOW);
  flushJournals();
  const queue = queues.get("a")!;
  rmSync(dir, { recursive: true, force: true });
  const disk = holdAsyncFsyncs();
  let released = false;
  try {
    queue.maintainJournal(false);
    expect(queue.journalRebuilding).toBe(true);
    const accepted: { id: number; commit: Commit }[] = [];
    const refused: string[] = [];
    for (const i of range(100, 1100)) {
      const outcome = setItem(ctx, "a", bytes(`${i}:`.padEnd(100, "x")), 0, NOW, 0);
      if (outcome instanceof Commit) accepted.push({ id: i, commit: outcome });
      else refused.push(isFailure(outcome) ? failure(outcome) : String(outcome));
      flushJournals();
      await new Promise((resolve) => setImmediate(resolve)); // turns pass: the rebuild stays held
    }
    expect(queue.journalRebuilding).toBe(true);
    // 2 KiB: 10 items held, each counting 164 bytes; room for two more within the budget.
    expect(accepted.map((a) => a.id)).toEqual([100, 101]);
    expect(refused.length).toBe(998);
    expect(new Set(refused)).toEqual(new Set(["SERVER_ERROR queue 'a': its journal is being rebuilt and its items in memory fill max_memory_size (2048 bytes); try again in a moment\r\n"]));
    expect(accepted.every((a) => a.commit.state === "pending")).toBe(true);
    const { memBytes, memItems } = queue.stats();
    expect(memBytes + memItems * ITEM_MEMORY_OVERHEAD).toBeLessThanOrEqual(2048);
    disk.release();
    released = true;
    await turnsUntil("the rebuild", () => !queue.journalRebuilding);
    expect(await Promise.all(accepted.map((a) => durable(a.commit)))).toEqual(["durable", "durable"]);
    // In place: sets are taken again (past the budget, on disk only).
    const after = setItem(ctx, "a", bytes("2000:".padEnd(100, "x")), 0, NOW, 0);
    expect(after).toBeInstanceOf(Commit);
    flushJournals();
    expect(await durable(after as Commit)).toBe("durable");
  } finally {
    if (!released) disk.release();
  }
  queues.close();
  expect(afterRestart(config)[0]).toEqual([...range(0, 10).map(String), "100", "101", "2000"]);
});

test("a fanout child whose rebuild is held up with its memory full refuses a set to its parent for all: nothing stored anywhere, the reply says which queue", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const { ctx, queues } = serverContext(config);
  for (const i of range(0, 12)) queues.add("p+c", bytes(`${i}:`.padEnd(100, "x")), 0, NOW);
  flushJournals();
  const child = queues.get("p+c")!;
  rmSync(dir, { recursive: true, force: true });
  const disk = holdAsyncFsyncs();
  try {
    child.maintainJournal(false);
    expect(child.journalRebuilding).toBe(true);
    const outcome = setItem(ctx, "p", bytes("100:".padEnd(100, "x")), 0, NOW, 0);
    expect(isFailure(outcome) ? failure(outcome) : outcome).toBe("SERVER_ERROR fanout queue 'p+c': queue 'p+c': its journal is being rebuilt and its items in memory fill max_memory_size (2048 bytes); try again in a moment\r\n");
    expect([queues.get("p")!.stats().items, child.stats().items]).toEqual([0, 12]);
  } finally {
    disk.release();
  }
  await turnsUntil("the rebuild", () => !child.journalRebuilding);
  expect(setItem(ctx, "p", bytes("101:".padEnd(100, "x")), 0, NOW, 0)).toBeInstanceOf(Commit);
  expect([queues.get("p")!.stats().items, child.stats().items]).toEqual([1, 13]);
  queues.close();
});

/** Bytes written to queue `name`'s pack temp file, per event-loop turn (turn 0 is the call that started the rebuild), while `run` runs. */
async function packWritesPerTurn(name: string, run: (nextTurn: () => Promise<void>) => Promise<void>): Promise<number[]> {
  const perTurn = [0];
  const pack = new RegExp(`/\\.${name}\\.\\d+\\.pack\\.\\d+\\.\\d+\\.tmp$`);
  const through = fileSystem.writev;
  fileSystem.writev = (fd, chunks) => {
    if (pack.test(readlinkSync(`/proc/self/fd/${fd}`))) perTurn[perTurn.length - 1]! += chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    return through(fd, chunks);
  };
  try {
    await run(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      perTurn.push(0);
    });
  } finally {
    fileSystem.writev = through;
  }
  return perTurn;
}

test("a queue with MiBs waiting on disk whose active file is deleted is rebuilt over turns, a slice of the items on disk copied per turn; meanwhile sets are refused and takes served from memory; a restart replays every item held, in order", async () => {
  const dir = tempDir();
  const config = configFor(dir, 'max_memory_size = "64KiB"\nmax_journal_size = "1MiB"\nexpiration_timer_frequency = 0\n');
  const { ctx, queues } = serverContext(config);
  const queue = queues.getOrCreate("a");
  for (const i of range(0, 6000)) queue.add(bytes(`${i}:`.padEnd(1000, "x")), 0, NOW);
  flushJournals();
  expect(queue.diskRegion()).not.toBeNull();
  // The newest ADDs were in the active file, which the writer still holds open: copied from there, the rest from the sealed segments.
  rmSync(join(dir, "a"));
  let refused = "";
  let overTurns = false;
  const takenDuring: number[] = [];
  const perTurn = await packWritesPerTurn("a", async (nextTurn) => {
    queue.maintainJournal(false);
    overTurns = queue.journalRebuilding;
    const outcome = setItem(ctx, "a", bytes("9999:x"), 0, NOW, 0);
    refused = isFailure(outcome) ? failure(outcome) : String(outcome);
    // Takes are served from the items in memory; nothing is read back until the rebuild is in place.
    for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) takenDuring.push(Number(text(item.data).split(":")[0]));
    while (queue.journalRebuilding) await nextTurn();
  });
  // About 6 MiB to copy: at most one slice (and the records of its items) written per turn.
  expect(Math.max(...perTurn)).toBeLessThan(CARRY_SLICE_BYTES + 64 * 1024);
  expect(perTurn.filter((bytes) => bytes > 0).length).toBeGreaterThan(6 * 1024 * 1024 / (CARRY_SLICE_BYTES + 64 * 1024));
  expect(overTurns).toBe(true);
  expect(refused).toBe("SERVER_ERROR queue 'a': its journal is being rebuilt, copying the items waiting on disk; try again in a moment\r\n");
  expect(queue.journalFailure).toBeNull();
  // 64 KiB of memory: the first 61 items (1,064 bytes each, as counted).
  expect(takenDuring).toEqual(range(0, 61));
  const held = queue.stats().items;
  expect(held).toBeGreaterThan(4000);
  // In place: sets are taken again, read-behind goes on from the rebuilt journal.
  expect(setItem(ctx, "a", bytes("9999:x"), 0, NOW, 0)).toBeInstanceOf(Commit);
  flushJournals();
  expect(text(queue.remove(NOW)!.data).split(":")[0]).toBe("61");
  queues.close();
  const restarted = QueueCollection.load(config);
  const ids: number[] = [];
  for (let item = restarted.get("a")!.remove(NOW); item !== undefined; item = restarted.get("a")!.remove(NOW)) ids.push(Number(text(item.data).split(":")[0]));
  restarted.close();
  expect(ids).toEqual([...range(62, 61 + held), 9999]);
});
