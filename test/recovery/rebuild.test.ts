/**
 * A journal rebuilt from its queue after its files were deleted or cut under the server: items
 * waiting on disk (read-behind) are copied from the segments still there, a slice at a time (not
 * read into memory, not dropped with a missing segment), and a fault at any step of the rebuild
 * loses nothing acknowledged: nothing is written to a file the rebuilt journal replaces.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { KestrelConfig } from "../../src/config/load.ts";
import { onceDurable } from "../../src/journal/commit.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { scanJournal } from "../../src/journal/scan.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { FaultInjector, type Fault } from "../helpers/faulty_fs.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const faults = FaultInjector.install();
afterEach(() => faults.clear());
afterAll(() => faults.uninstall());

const NOW = Date.now();
const sealed = (dir: string) => readdirSync(dir).filter((name) => /^q\.\d+$/.test(name)).sort();

/** Every item of q in the files as a crash would leave them now, in order. */
function replayCopy(config: KestrelConfig): string[] {
  return faults.withoutFaults(() => {
    const copy = tempDir();
    copyDataDir(config.server.queuePath, copy);
    const queues = QueueCollection.load({ ...config, server: { ...config.server, queuePath: copy } });
    const queue = queues.getOrCreate("q");
    const out: string[] = [];
    for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) out.push(text(item.data).split(":")[0]!);
    queues.close();
    return out;
  });
}

/** `count` items of `size` bytes on q, written one write each (segments of 4 KiB). */
function fill(config: KestrelConfig, count: number, size: number): QueueCollection {
  const queues = QueueCollection.load(config);
  for (let i = 0; i < count; i++) {
    queues.add("q", bytes(`${i}:`.padEnd(size, "x")), 0, NOW);
    flushJournals();
  }
  return queues;
}

describe("rebuild with items waiting on disk", () => {
  const config = (dir: string) => configFor(dir, 'max_memory_size = "16KiB"\nmax_journal_size = "4KiB"\nexpiration_timer_frequency = 0\n');

  test("a missing segment loses only its own items; the others are copied, not read into memory", () => {
    const dir = tempDir();
    const queues = fill(config(dir), 400, 1000);
    const segments = sealed(dir);
    const victim = segments[Math.floor(segments.length / 2)]!;
    const inVictim = replayOf(dir, victim);
    rmSync(join(dir, victim));
    queues.maintainJournals();
    const stats = queues.get("q")!.stats();
    expect(stats.items).toBe(400 - inVictim.length);
    expect(stats.memBytes).toBeLessThanOrEqual(16 * 1024);
    expect(drainIds(queues)).toEqual(Array.from({ length: 400 }, (_, i) => String(i)).filter((id) => !inVictim.includes(id)));
    queues.close();
  });

  test("the oldest segment deleted: every item survives, memory stays within the budget", () => {
    const dir = tempDir();
    const queues = fill(config(dir), 400, 1000);
    const inVictim = replayOf(dir, sealed(dir)[0]!);
    expect(inVictim.length).toBeGreaterThan(0);
    rmSync(join(dir, sealed(dir)[0]!));
    queues.maintainJournals();
    expect(queues.get("q")!.stats().memBytes).toBeLessThanOrEqual(16 * 1024);
    expect(queues.get("q")!.stats().items).toBe(400);
    expect(replayCopy(config(dir))).toEqual(Array.from({ length: 400 }, (_, i) => String(i)));
    queues.close();
  });

  test("a head out of id order (aborts) and items waiting on disk: what is confirmed after the rebuild stays confirmed", () => {
    const dir = tempDir();
    let queues = fill(config(dir), 100, 1000);
    let queue = queues.get("q")!;
    const opened = Array.from({ length: 20 }, () => queue.open(NOW)!);
    for (const item of opened) queue.abort(item, NOW); // the head is now 19, 18, ..., 0: 20 KB, over the budget
    flushJournals();
    rmSync(join(dir, sealed(dir)[0]!));
    queues.maintainJournals();
    queues.close();
    queues = QueueCollection.load(config(dir));
    queue = queues.getOrCreate("q");
    const held = Array.from({ length: 18 }, () => queue.open(NOW)!);
    expect(held.map((item) => Number(text(item.data).split(":")[0]))).toEqual(Array.from({ length: 18 }, (_, i) => 19 - i));
    queue.confirm(held[17]!); // 2, for good
    flushJournals();
    queues.close();
    const head = Array.from({ length: 20 }, (_, i) => String(19 - i)).filter((id) => id !== "2");
    expect(replayCopy(config(dir))).toEqual([...head, ...Array.from({ length: 80 }, (_, i) => String(i + 20))]);
  });

  const INSTALL_FAULTS = [
    // A replaced segment is moved aside (to .q.<seq>.<pid>.<ms>.tmp) before it is deleted.
    ["moving a segment aside", { op: "rename", code: "EIO", path: "/\\.q\\.\\d+\\.\\d+\\.\\d+\\.tmp$", times: 1 }],
    // The first directory fsync, after the fresh active file's rename, passes.
    ["a directory fsync", { op: "fsync", code: "EIO", path: "/kestrel-unit-[^/]+$", after: 1, times: 1 }],
  ] as const;
  for (const [what, fault] of INSTALL_FAULTS) {
    test(`${what} failing while the rebuilt journal is installed: the writer goes on, items waiting on disk are read from the pending pack`, () => {
      const dir = tempDir();
      const queues = fill(config(dir), 200, 1000);
      rmSync(join(dir, sealed(dir)[0]!)); // its items are in memory: nothing lost by this
      faults.set([fault]);
      queues.maintainJournals(); // committed, the fresh active file in place; the install fails
      expect(faults.hits).toBe(1);
      faults.clear();
      expect(readdirSync(dir).filter((name) => name.endsWith(".pack")).length).toBe(1);
      expect(queues.get("q")!.journalFailure).toBeNull();
      const interim = queues.add("q", bytes("interim:"), 0, NOW);
      flushJournals();
      expect(typeof interim === "string" ? interim : interim.state).toBe("durable");
      const all = [...Array.from({ length: 200 }, (_, i) => String(i)), "interim"];
      expect(replayCopy(config(dir))).toEqual(all); // a crash now: start-up finishes the install
      expect(drainIds(queues)).toEqual(all); // read back from the pack while it is pending
      queues.maintainJournals(); // finishes the install
      expect(readdirSync(dir).filter((name) => name.endsWith(".pack"))).toEqual([]);
      expect(replayCopy(config(dir))).toEqual([]);
      queues.close();
    });
  }

  test("a second rebuild while the first one's install is pending copies the items from its pack", () => {
    const dir = tempDir();
    const queues = fill(config(dir), 200, 1000);
    rmSync(join(dir, sealed(dir)[0]!));
    faults.set([{ op: "rename", code: "EIO", path: "/\\.q\\.\\d+\\.\\d+\\.\\d+\\.tmp$" }]); // no install works
    queues.maintainJournals();
    rmSync(join(dir, "q")); // the fresh active file deleted too: rebuilt again
    queues.maintainJournals();
    expect(readdirSync(dir).filter((name) => name.endsWith(".pack")).length).toBe(2);
    const all = Array.from({ length: 200 }, (_, i) => String(i));
    expect(replayCopy(config(dir))).toEqual(all); // a crash now: the newer pack is installed, the older one deleted
    faults.clear();
    queues.maintainJournals();
    expect(readdirSync(dir).filter((name) => name.endsWith(".pack"))).toEqual([]);
    expect(queues.get("q")!.stats().items).toBe(200);
    expect(replayCopy(config(dir))).toEqual(all);
    queues.close();
  });

  test("an item waiting on disk whose write failed (kept for the retry) when a rebuild comes is carried over from the writer's records, and acknowledged then", () => {
    const dir = tempDir();
    const queues = fill(config(dir), 100, 1000);
    faults.set([{ op: "writev", code: "ENOSPC", path: "/q$" }]); // the active file can't be written, for good
    const late = queues.add("q", bytes("late:"), 0, NOW);
    if (typeof late === "string") throw new Error(late);
    let acknowledged = false;
    onceDurable(late, () => (acknowledged = true));
    flushJournals();
    expect(queues.get("q")!.journalFailure).toContain("ENOSPC");
    rmSync(join(dir, sealed(dir)[0]!)); // its items are in memory: nothing lost by this
    queues.maintainJournals(); // the retry fails again; the rebuild puts a fresh active file in place
    faults.clear();
    expect(queues.get("q")!.journalFailure).toBeNull();
    expect(acknowledged).toBe(true);
    const all = [...Array.from({ length: 100 }, (_, i) => String(i)), "late"];
    expect(replayCopy(config(dir))).toEqual(all);
    expect(drainIds(queues)).toEqual(all);
    queues.close();
  });

  test("an item added in the turn of the rebuild, waiting on disk, is carried over", () => {
    const dir = tempDir();
    const queues = fill(config(dir), 100, 1000);
    rmSync(join(dir, sealed(dir)[0]!));
    queues.add("q", bytes("late:"), 0, NOW); // its ADD is not written yet when the rebuild runs
    queues.maintainJournals();
    flushJournals();
    expect(queues.get("q")!.stats().items).toBe(101);
    expect(replayCopy(config(dir))).toEqual([...Array.from({ length: 100 }, (_, i) => String(i)), "late"]);
    queues.close();
  });
});

/** The ids of the items added in one segment file. */
function replayOf(dir: string, segment: string): string[] {
  const ids: string[] = [];
  scanJournal(readFileSync(join(dir, segment)), NOW, { current: (record) => void ("item" in record && ids.push(text(record.item.data).split(":")[0]!)) });
  return ids;
}

function drainIds(queues: QueueCollection): string[] {
  const queue = queues.get("q")!;
  const out: string[] = [];
  for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) out.push(text(item.data).split(":")[0]!);
  return out;
}

describe("a fault during a rebuild", () => {
  const STEPS: ReadonlyArray<readonly [string, Fault]> = [
    ["writing the pack", { op: "writev", code: "ENOSPC", path: "\\.pack\\.\\d+\\.\\d+\\.tmp$" }],
    ["syncing the pack", { op: "fsync", code: "EIO", path: "\\.pack\\.\\d+\\.\\d+\\.tmp$" }],
    ["making the fresh active file", { op: "fsync", code: "EIO", path: "/\\.q\\.\\d+\\.\\d+\\.tmp$" }],
    ["moving the active file aside", { op: "rename", code: "EIO", path: "/q$" }],
    ["committing the pack", { op: "rename", code: "EIO", path: "\\.pack$" }],
    ["putting the fresh active file in place", { op: "rename", code: "EIO", path: "/\\.q\\.\\d+\\.\\d+\\.tmp$" }],
    ["installing the pack", { op: "fsync", code: "EIO", path: "/kestrel-unit-[^/]+$" }],
  ];
  test("sync_journal = always: a write waiting for its fsync is acknowledged only once the rebuilt journal's renames are on disk", () => {
    const injected = fileSystem.fsyncAsync;
    fileSystem.fsyncAsync = () => {}; // fsyncs off the event loop never return here (a slow disk)
    try {
      const dir = tempDir();
      const queues = fill(configFor(dir, 'sync_journal = "always"\nmax_journal_size = "1KiB"\nexpiration_timer_frequency = 0\n'), 30, 100);
      const waiting = queues.add("q", bytes("waiting:"), 0, NOW);
      if (typeof waiting === "string") throw new Error(waiting);
      let acknowledged = false;
      onceDurable(waiting, () => (acknowledged = true));
      flushJournals(); // written; its fsync never returns
      rmSync(join(dir, sealed(dir)[0]!));
      faults.set([{ op: "fsync", code: "EIO", path: "/kestrel-unit-[^/]+$", times: 1 }]);
      queues.maintainJournals(); // rebuilt (the item is in the pack); the directory fsync after the renames fails
      expect(acknowledged).toBe(false);
      faults.clear();
      queues.maintainJournals(); // the retry fsyncs the directory
      expect(acknowledged).toBe(true);
      queues.close();
    } finally {
      fileSystem.fsyncAsync = injected;
    }
  });

  for (const [step, fault] of STEPS) {
    test(`${step}: nothing acknowledged is lost, before or after the rebuild works`, () => {
      const dir = tempDir();
      const cfg = configFor(dir, 'max_journal_size = "1KiB"\nexpiration_timer_frequency = 0\n');
      const queues = fill(cfg, 30, 100);
      rmSync(join(dir, sealed(dir)[0]!)); // the server still holds every item
      faults.set([fault]);
      queues.maintainJournals(); // the rebuild fails at this step
      expect(faults.hits).toBeGreaterThan(0);
      faults.clear();
      const acked: string[] = [];
      const commit = queues.add("q", bytes("interim:"), 0, NOW);
      if (typeof commit !== "string") onceDurable(commit, () => acked.push("interim"));
      flushJournals();
      // A crash now: whatever was acknowledged since is in the files.
      for (const id of acked) expect(replayCopy(cfg)).toContain(id);
      queues.maintainJournals(); // the rebuild works now
      queues.maintainJournals();
      expect(queues.get("q")!.journalFailure).toBeNull();
      const all = [...Array.from({ length: 30 }, (_, i) => String(i)), ...acked];
      expect(replayCopy(cfg)).toEqual(all);
      queues.close();
    });
  }
});
