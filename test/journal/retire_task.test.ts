/**
 * A deleted queue's journal retired over turns (retire_task.ts): no fsync in the delete's turn;
 * a queue of the same name made at once keeps every item it is given whatever the retire does
 * after (its files are numbered after the old ones); a clean stop in the middle, an fsync that
 * fails or hangs, each leave files that replay to nothing of the old queue.
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import { readdirSync } from "node:fs";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import type { QueueCollection as Queues } from "../../src/queue/queue_collection.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { log } from "../../src/log.ts";
import { bytes } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { drainCopy } from "../helpers/dir_snapshots.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const CONFIG = `max_memory_size = "8KiB"\nmax_journal_size = "16KiB"\n`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const real = { ...fileSystem };

/** Lets fsyncs held by a test that failed go, so no retire stays under way for the next. */
let releaseHeld = (): void => {};

afterEach(() => {
  Object.assign(fileSystem, real);
  releaseHeld();
});

/** Adds items `<from>:` to `<to - 1>:` to q, a journal write every 20, so the journal rotates. */
function add(queues: Queues, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    queues.add("q", bytes(`${i}:`.padEnd(500, "x")), 0, Date.now());
    if (i % 20 === 19) flushJournals();
  }
  flushJournals();
}

/** A queue q of 200 items in many segments, the first 50 taken. */
function filled(dir: string, config = CONFIG): Queues {
  const queues = QueueCollection.load(configFor(dir, config));
  add(queues, 0, 200);
  const queue = queues.get("q")!;
  for (let i = 0; i < 50; i++) queue.remove(Date.now());
  flushJournals();
  expect(readdirSync(dir).filter((name) => /^q\.\d+$/.test(name)).length).toBeGreaterThan(3);
  return queues;
}

/** The numbers of q's sealed segments in `dir`. */
function sealedSeqs(dir: string): number[] {
  return readdirSync(dir).flatMap((name) => (/^q\.\d+$/.test(name) ? [Number(name.slice(2))] : []));
}

/** The files of the data directory, but for its lock. */
function filesIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => name !== ".kestrel");
}

/** Holds every fsync done off the event loop until `release` (a slow disk); `held` counts those waiting. */
function holdAsyncFsyncs(): { held: () => number; release: () => void } {
  let waiting: Array<() => void> = [];
  let holding = true;
  fileSystem.fsyncAsync = (fd, done) => (holding ? waiting.push(() => real.fsyncAsync(fd, done)) : real.fsyncAsync(fd, done));
  const release = (): void => {
    holding = false;
    const now = waiting;
    waiting = [];
    for (const run of now) run();
  };
  releaseHeld = release;
  return { held: () => waiting.length, release };
}

test("a delete makes no fsync in its turn (they were 4, each a stall of every client on a slow disk)", async () => {
  for (const sync of ["never", "always"]) {
    const dir = tempDir();
    const queues = filled(dir, `${CONFIG}sync_journal = "${sync}"\n`);
    let fsyncs = 0;
    fileSystem.fsync = (fd) => (fsyncs++, real.fsync(fd));
    fileSystem.syncFileSystem = (path) => (fsyncs++, real.syncFileSystem(path));
    queues.delete("q");
    fileSystem.fsync = real.fsync;
    fileSystem.syncFileSystem = real.syncFileSystem;
    expect(`${sync}: ${fsyncs}`).toBe(`${sync}: 0`);
    await backgroundRemovals();
    await backgroundRemovals();
    expect(filesIn(dir)).toEqual([]);
    queues.close();
    expect(drainCopy(dir, CONFIG)).toEqual([]);
  }
});

test("a set right after the delete makes the queue again: its items stay, whatever the retire does after, also when its files rotate meanwhile", async () => {
  const dir = tempDir();
  const queues = filled(dir);
  const disk = holdAsyncFsyncs();
  const errors = spyOn(log, "error");
  queues.delete("q");
  // The old segments, the active file renamed to the last of them among them.
  const oldSeqs = sealedSeqs(dir);
  // The old files replay to nothing already (the empty pack is committed): a start now serves none of them.
  add(queues, 1000, 1200);
  expect(disk.held()).toBeGreaterThan(0);
  // The new journal rotates as usual: its segments are numbered after the old ones (no "already exists").
  expect(errors).not.toHaveBeenCalled();
  errors.mockRestore();
  const newSeqs = sealedSeqs(dir).filter((seq) => !oldSeqs.includes(seq));
  expect(newSeqs.length).toBeGreaterThan(3);
  expect(Math.min(...newSeqs)).toBeGreaterThan(Math.max(...oldSeqs));
  expect(drainCopy(copyDataDir(dir), CONFIG)).toEqual(range(1000, 1200));
  disk.release();
  await backgroundRemovals();
  await backgroundRemovals();
  // Only the new journal's files are left, and they hold every new item.
  expect(filesIn(dir).every((name) => /^q(\.\d+)?$/.test(name))).toBe(true);
  const queue = queues.get("q")!;
  expect(queue.stats().items).toBe(200);
  queues.close();
  expect(drainCopy(dir, CONFIG)).toEqual(range(1000, 1200));
});

test("deleted, made again and deleted again while the first retire waits: both retires finish, the third queue's items stay", async () => {
  const dir = tempDir();
  const queues = filled(dir);
  const disk = holdAsyncFsyncs();
  queues.delete("q");
  add(queues, 1000, 1100);
  queues.delete("q");
  add(queues, 2000, 2050);
  disk.release();
  await backgroundRemovals();
  await backgroundRemovals();
  queues.close();
  expect(drainCopy(dir, CONFIG)).toEqual(range(2000, 2050));
});

test("a clean stop while a retire waits for an fsync that never returns: what is left is done at the stop, nothing of the old queue comes back", async () => {
  const faults = FaultInjector.install();
  try {
    const dir = tempDir();
    const queues = filled(dir);
    faults.set([{ op: "fsyncAsync", code: "HANG" }]);
    queues.delete("q");
    add(queues, 1000, 1010);
    faults.clear();
    queues.close();
    await backgroundRemovals();
    await backgroundRemovals();
    expect(drainCopy(dir, CONFIG)).toEqual(range(1000, 1010));
    expect(filesIn(dir).filter((name) => name.endsWith(".pack") || name.endsWith(".tmp"))).toEqual([]);
  } finally {
    faults.uninstall();
  }
});

test("a clean stop during a retire whose fsyncs fail: its files are moved aside at once, nothing of the old queue comes back", async () => {
  const faults = FaultInjector.install();
  try {
    const dir = tempDir();
    const queues = filled(dir);
    faults.set([{ op: "fsyncAsync", code: "HANG" }]);
    queues.delete("q");
    faults.set([{ op: "fsync", code: "EIO", path: "q\\.\\d+\\.pack$" }]);
    queues.close();
    faults.clear();
    await backgroundRemovals();
    await backgroundRemovals();
    expect(drainCopy(dir, CONFIG)).toEqual([]);
    expect(filesIn(dir)).toEqual([]);
  } finally {
    faults.uninstall();
  }
});

test("each of the retire's fsyncs failing in turn: its files are moved aside at once, the new queue keeps its items", async () => {
  for (let failing = 0; failing < 3; failing++) {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      const queues = filled(dir);
      // The pack's fsync, the directory's after its rename, the directory's after the old files' moves.
      faults.set([{ op: "fsyncAsync", code: "EIO", path: "(kestrel-unit-[^/]+|q\\.\\d+\\.pack)$", after: failing, times: 1 }]);
      queues.delete("q");
      add(queues, 1000, 1010);
      await backgroundRemovals();
      await backgroundRemovals();
      expect(`${failing}: ${faults.hits}`).toBe(`${failing}: 1`);
      expect(filesIn(dir).filter((name) => !/^q(\.\d+)?$/.test(name))).toEqual([]);
      queues.close();
      expect(drainCopy(dir, CONFIG)).toEqual(range(1000, 1010));
    } finally {
      faults.uninstall();
    }
  }
});

test("the empty pack can't be deleted at the end: the name's floor stays, so a new journal of the name never numbers a segment the pack would replace at the next start", async () => {
  const faults = FaultInjector.install();
  const warnings = spyOn(log, "warn").mockImplementation(() => {});
  const errors = spyOn(log, "error").mockImplementation(() => {});
  try {
    const dir = tempDir();
    const queues = filled(dir);
    const oldSeqs = sealedSeqs(dir);
    faults.set([{ op: "remove", code: "EACCES", path: "/q\\.\\d+\\.pack$" }]);
    queues.delete("q");
    await backgroundRemovals();
    await backgroundRemovals();
    expect(faults.hits).toBeGreaterThan(0);
    faults.clear();
    // The pack is left (the log says so); a queue of the same name, made now, rotates past its number.
    add(queues, 1000, 1200);
    expect(Math.min(...sealedSeqs(dir))).toBeGreaterThan(Math.max(...oldSeqs));
    queues.close();
    expect(drainCopy(dir, CONFIG)).toEqual(range(1000, 1200));
  } finally {
    warnings.mockRestore();
    errors.mockRestore();
    faults.uninstall();
  }
});
