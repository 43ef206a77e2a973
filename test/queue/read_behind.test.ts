import { describe, expect, test } from "bun:test";
import { flushAllExpiredNow, flushExpiredNow } from "../helpers/expired_flush.ts";
import { existsSync, renameSync } from "node:fs";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { activePath, sealedPath } from "../../src/journal/segment_files.ts";
import { expiredFlush } from "../../src/queue/persistent_queue.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { journalBytes, settled } from "../helpers/journal.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const NOW = Date.now();
const CONFIG = `max_memory_size = "10KiB"\nmax_journal_size = "20KiB"\n`;
const payload = (i: number) => `${i}:`.padEnd(500, String.fromCharCode(97 + (i % 26)));

function fill(queues: QueueCollection, name: string, from: number, to: number, expiry = 0): void {
  for (let i = from; i < to; i++) expect(typeof queues.add(name, bytes(payload(i)), expiry, NOW)).toBe("object");
  flushJournals();
}

function take(queues: QueueCollection, name: string, count: number): number[] {
  const queue = queues.getOrCreate(name);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const item = queue.remove(NOW);
    if (item === undefined) break;
    const data = text(item.data);
    expect(data).toBe(payload(Number(data.split(":")[0])));
    out.push(Number(data.split(":")[0]));
  }
  flushJournals();
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A queue 'q' of 200 items of 1,000 B under `config`, most of them waiting on disk, their records written. */
function twoHundredOnDisk(config: ReturnType<typeof configFor>): QueueCollection {
  const queues = QueueCollection.load(config);
  for (let i = 0; i < 200; i++) queues.add("q", new Uint8Array(1000).fill(65), 0, NOW);
  flushJournals();
  return queues;
}

describe("read-behind", () => {
  test("after a reload raises the budget, items come back at most 1 MiB per take (a short turn), not all at once", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 20_000); // about 10 MB, nearly all on disk
    const queue = queues.getOrCreate("q");
    queue.reconfigure({ ...queue.settings, maxMemorySize: 1024 * 1024 * 1024 });
    // Each take that finds memory under half the budget reads one slice back.
    const before = queue.stats().memBytes;
    expect(take(queues, "q", 1)).toEqual([0]);
    const grew = queue.stats().memBytes - before;
    expect(grew).toBeGreaterThan(512 * 1024);
    expect(grew).toBeLessThanOrEqual(1024 * 1024);
    expect(take(queues, "q", 20_000)).toEqual(range(1, 20_000));
    queues.close();
  });

  test("a queue 25x its memory budget keeps its head in memory and comes back in order", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 500);
    const stats = queues.getOrCreate("q").stats();
    expect(stats.items).toBe(500);
    expect(stats.bytes).toBe(500 * 500);
    expect(stats.memBytes).toBeLessThanOrEqual(10 * 1024);
    expect(stats.memItems).toBeLessThan(25);
    expect(take(queues, "q", 500)).toEqual(range(0, 500));
    expect(queues.getOrCreate("q").stats().memItems).toBe(0);
    queues.close();
  });

  test("empty items count toward the memory budget: 20,000 of them keep at most 160 in memory (10 KiB at 64 B each), after a take and a restart too", () => {
    // They used to count 0 bytes each: every one stayed in memory (about 55 B each resident), so a
    // client could fill the server's memory past every max_memory_size with `set q 0 0 0`.
    const dir = tempDir();
    const config = configFor(dir, CONFIG);
    let queues = QueueCollection.load(config);
    for (let i = 0; i < 20_000; i++) expect(typeof queues.add("q", new Uint8Array(0), 0, NOW)).toBe("object");
    flushJournals();
    expect(queues.get("q")!.stats().memItems).toBeLessThanOrEqual(160);
    for (let i = 0; i < 100; i++) expect(queues.get("q")!.remove(NOW)).toBeDefined();
    flushJournals();
    expect(queues.get("q")!.stats().memItems).toBeLessThanOrEqual(160);
    queues.close();
    queues = QueueCollection.load(config);
    const stats = queues.get("q")!.stats();
    expect(stats.items).toBe(19_900);
    expect(stats.memItems).toBeLessThanOrEqual(160);
    let taken = 0;
    while (queues.get("q")!.remove(NOW) !== undefined) taken++;
    expect(taken).toBe(19_900);
    queues.close();
  });

  test("a restart in the middle of read-behind keeps order and count; memory stays in budget", () => {
    const dir = tempDir();
    let queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 300);
    expect(take(queues, "q", 120)).toEqual(range(0, 120));
    fill(queues, "q", 300, 400);
    queues.close();
    queues = QueueCollection.load(configFor(dir, CONFIG));
    const stats = queues.getOrCreate("q").stats();
    expect(stats.items).toBe(280);
    expect(stats.memBytes).toBeLessThanOrEqual(10 * 1024 + 500);
    expect(take(queues, "q", 100)).toEqual(range(120, 220));
    queues.close();
    queues = QueueCollection.load(configFor(dir, CONFIG));
    expect(take(queues, "q", 1000)).toEqual(range(220, 400));
    queues.close();
  });

  test("reliable reads, aborts and expiry behave as in memory", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    const queue = queues.getOrCreate("q");
    fill(queues, "q", 0, 100);
    fill(queues, "q", 100, 110, NOW + 10);
    fill(queues, "q", 110, 120);
    const opened = queue.open(NOW)!;
    expect(text(opened.data)).toBe(payload(0));
    queue.abort(opened, NOW);
    expect(take(queues, "q", 100)).toEqual(range(0, 100));
    const later = NOW + 100;
    const rest: number[] = [];
    for (let item = queue.remove(later); item !== undefined; item = queue.remove(later)) rest.push(Number(text(item.data).split(":")[0]));
    expect(rest).toEqual(range(110, 120));
    expect(queue.stats().expiredItems).toBe(10);
    queues.close();
  });

  test("fanout children read behind on their own", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    queues.getOrCreate("q+copy");
    fill(queues, "q", 0, 200);
    expect(take(queues, "q+copy", 200)).toEqual(range(0, 200));
    expect(take(queues, "q", 200)).toEqual(range(0, 200));
    queues.close();
  });

  test("once drained, the journal shrinks to a fresh segment", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 400);
    expect(journalBytes(dir, "q")).toBeGreaterThan(200 * 1024);
    take(queues, "q", 400);
    queues.maintainJournals();
    expect(journalBytes(dir, "q")).toBeLessThan(100);
    queues.close();
  });

  test("flush drops the items on disk too", () => {
    const dir = tempDir();
    let queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 200);
    queues.getOrCreate("q").flush();
    expect(queues.getOrCreate("q").stats().items).toBe(0);
    fill(queues, "q", 200, 210);
    queues.close();
    queues = QueueCollection.load(configFor(dir, CONFIG));
    expect(take(queues, "q", 1000)).toEqual(range(200, 210));
    queues.close();
  });

  test("flush_expired drops the expired items waiting on disk too, within the memory budget; a restart agrees", () => {
    const dir = tempDir();
    let queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 10);
    fill(queues, "q", 10, 300, NOW + 10);
    fill(queues, "q", 300, 310);
    const queue = queues.getOrCreate("q");
    expect(queue.stats().memItems).toBeLessThan(25);
    expect(flushAllExpiredNow(queues, NOW + 20)).toBe(290);
    flushJournals();
    expect(queue.stats()).toMatchObject({ items: 20, bytes: 20 * 500, expiredItems: 290 });
    expect(queue.stats().memBytes).toBeLessThanOrEqual(10 * 1024);
    queues.close();
    queues = QueueCollection.load(configFor(dir, CONFIG));
    expect(queues.getOrCreate("q").stats().items).toBe(20);
    expect(take(queues, "q", 1000)).toEqual([...range(0, 10), ...range(300, 310)]);
    queues.close();
  });

  test("flush_expired moves expired items waiting on disk to move_expired_to, in order", () => {
    const dir = tempDir();
    const config = configFor(dir, `${CONFIG}[queues.q]\nmove_expired_to = "dead"\n`);
    let queues = QueueCollection.load(config);
    fill(queues, "q", 0, 200, NOW + 10);
    fill(queues, "q", 200, 205);
    expect(flushExpiredNow(queues.getOrCreate("q"), NOW + 20)).toBe(200);
    flushJournals();
    queues.close();
    queues = QueueCollection.load(config);
    expect(take(queues, "dead", 1000)).toEqual(range(0, 200));
    expect(take(queues, "q", 1000)).toEqual(range(200, 205));
    queues.close();
  });

  test("empty expired items moving to move_expired_to count toward the memory budget: a flush_expired holds at most 160 of them at a time", () => {
    // Items on their way to move_expired_to counted only their bytes: empty ones counted nothing,
    // so a flush_expired read the whole disk region into memory before any of them was let go.
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, `${CONFIG}[queues.q]\nmove_expired_to = "dead"\n`));
    for (let i = 0; i < 2_000; i++) expect(typeof queues.add("q", new Uint8Array(0), NOW + 10, NOW)).toBe("object");
    flushJournals();
    const queue = queues.getOrCreate("q");
    const flush = expiredFlush(NOW + 20);
    let mostMoving = 0;
    for (let done = false; !done; ) {
      done = queue.flushExpiredPart(flush);
      mostMoving = Math.max(mostMoving, queue.live().items - queue.stats().items);
    }
    expect(flush.removed).toBe(2_000);
    expect(mostMoving).toBeLessThanOrEqual(160);
    flushJournals();
    expect(queues.getOrCreate("dead").stats().items).toBe(2_000);
    queues.close();
  });

  test("flush_expired reads back no further than memory allows; expired items further on go as read-behind reaches them", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 40);
    fill(queues, "q", 40, 300, NOW + 10);
    const queue = queues.getOrCreate("q");
    expect(flushExpiredNow(queue, NOW + 20)).toBe(0);
    expect(queue.stats().memBytes).toBeLessThanOrEqual(10 * 1024 + 500);
    const later = NOW + 20;
    const out: number[] = [];
    for (let item = queue.remove(later); item !== undefined; item = queue.remove(later)) out.push(Number(text(item.data).split(":")[0]));
    expect(out).toEqual(range(0, 40));
    expect(queue.stats()).toMatchObject({ items: 0, expiredItems: 260 });
    queues.close();
  });

  test("a reload that turns the journal off or on keeps every item, in order", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 100);
    await settled(queues.prepareReconfigure(configFor(dir, `${CONFIG}journal = false\n`))());
    expect(queues.getOrCreate("q").stats().memItems).toBe(100);
    await settled(queues.prepareReconfigure(configFor(dir, CONFIG))());
    fill(queues, "q", 100, 200);
    expect(queues.getOrCreate("q").stats().memBytes).toBeLessThanOrEqual(100 * 500 + 10 * 1024);
    expect(take(queues, "q", 50)).toEqual(range(0, 50));
    queues.close();
    const again = QueueCollection.load(configFor(dir, CONFIG));
    expect(take(again, "q", 1000)).toEqual(range(50, 200));
    again.close();
  });

  test("a reload turning the journal off while the items on disk can't be read keeps the journal until they can, and says so at once; then it goes, with every item", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    fill(queues, "q", 0, 100);
    const queue = queues.getOrCreate("q");
    expect(queue.stats().memItems).toBeLessThan(30);
    // The first sealed segment, where the items on disk start, goes missing for a while.
    const segment = sealedPath(dir, "q", 1);
    renameSync(segment, `${segment}.away`);
    const reloaded = configFor(dir, `${CONFIG}journal = false\nmax_items = 5\n`);
    const done = queues.prepareReconfigure(reloaded)();
    // The config is in force; the journal stays, with every item, until they can be read in; the
    // reply doesn't wait for that.
    expect([done.state, queue.hasJournal, queue.journalWanted, queue.settings.maxItems, queue.stats().items]).toEqual(["failed", true, false, 5, 100]);
    expect(done.error).toMatch(/^queue 'q': reading its items into memory is held up \(reading items back from the journal failed: .*\); it keeps its journal, with every item/);

    renameSync(`${segment}.away`, segment);
    // The dropped journal's fsyncs held (a slow disk): its files go over the next turns (retire_task.ts).
    const held: Array<() => void> = [];
    const fsyncAsync = fileSystem.fsyncAsync;
    fileSystem.fsyncAsync = (fd, done) => void held.push(() => fsyncAsync(fd, done));
    try {
      queues.maintainJournals(); // the upkeep tries the read again
      for (let i = 0; queue.hasJournal && i < 1000; i++) await new Promise((resolve) => setImmediate(resolve));
      expect([queue.hasJournal, queue.stats().memItems]).toEqual([false, 100]);
      expect(take(queues, "q", 1000)).toEqual(range(0, 100));
      // Taken while the queue is in memory only: a crash now serves none of them again (the upkeep
      // that dropped the journal did not go on to rebuild it from the queue, files and all).
      const crashed = QueueCollection.load(configFor(copyDataDir(dir), `${CONFIG}journal = false\n`));
      expect(take(crashed, "q", 1000)).toEqual([]);
      crashed.close();
    } finally {
      fileSystem.fsyncAsync = fsyncAsync;
      for (const run of held.splice(0)) run();
    }
    await backgroundRemovals();
    expect([existsSync(segment), existsSync(activePath(dir, "q"))]).toEqual([false, false]);
    queues.close();
  });
});

test("an item kept in memory doesn't hold on to the socket buffer it arrived in", () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir));
  const socketRead = new Uint8Array(65536);
  queues.add("q", socketRead.subarray(100, 110), 0, NOW);
  queues.add("q", socketRead.subarray(0, 40000), 0, NOW);
  const queue = queues.getOrCreate("q");
  expect(queue.remove(NOW)!.data.buffer).not.toBe(socketRead.buffer);
  expect(queue.remove(NOW)!.data.buffer).toBe(socketRead.buffer);
  queues.close();
});

test("an item put back while items wait on disk keeps the next start within the memory budget", () => {
  const dir = tempDir();
  const config = configFor(dir, 'max_memory_size = "64KiB"\n');
  let queues = QueueCollection.load(config);
  for (let i = 0; i < 4000; i++) queues.add("q", new Uint8Array(1000).fill(65), 0, NOW);
  flushJournals();
  const queue = queues.get("q")!;
  queue.giveBack(queue.remove(NOW)!, NOW);
  queues.close();
  queues = QueueCollection.load(config);
  const stats = queues.get("q")!.stats();
  queues.close();
  expect(stats.items).toBe(4000);
  expect(stats.memBytes).toBeLessThan(2 * 64 * 1024);
});

test("a flush that can't replace the journal drops nothing (it used to forget the items waiting on disk)", () => {
  const config = configFor(tempDir(), 'max_memory_size = "16KiB"\n');
  let queues = twoHundredOnDisk(config);
  const faults = FaultInjector.install();
  try {
    faults.set([{ op: "open", code: "EMFILE", path: "\\.tmp$" }]); // no descriptor for the fresh segment
    const refused = queues.get("q")!.flush();
    expect([refused.state, refused.error]).toEqual(["failed", expect.stringMatching(/^could not flush queue 'q': EMFILE/)]);
  } finally {
    faults.uninstall();
  }
  expect(queues.get("q")!.stats().items).toBe(200);
  queues.close();
  queues = QueueCollection.load(config);
  expect(queues.get("q")!.stats().items).toBe(200);
  expect(queues.get("q")!.flush().state).not.toBe("failed");
  expect(queues.get("q")!.stats().items).toBe(0);
  // A clean stop writes and commits the flush's new journal, whose pack is still being written.
  queues.close();
  queues = QueueCollection.load(config);
  expect(queues.get("q")!.stats().items).toBe(0);
  queues.close();
});

test("a flush whose new journal can't be written: the reply names the queue and why; the queue stays flushed, the next upkeep rebuilds its journal, and a restart finds it empty", async () => {
  const config = configFor(tempDir(), 'max_memory_size = "16KiB"\n');
  let queues = twoHundredOnDisk(config);
  const faults = FaultInjector.install();
  try {
    faults.set([{ op: "fsyncAsync", code: "ENOSPC", path: "\\.pack\\..*\\.tmp$" }]); // the pack's fsync
    const flushed = queues.get("q")!.flush();
    await settled(flushed);
    expect([flushed.state, flushed.error]).toEqual(["failed", expect.stringMatching(/^queue 'q' flushed, but its new journal could not be written: ENOSPC/)]);
  } finally {
    faults.uninstall();
  }
  expect(queues.get("q")!.stats().items).toBe(0);
  queues.maintainJournals();
  queues.close();
  queues = QueueCollection.load(config);
  expect(queues.get("q")!.stats().items).toBe(0);
  queues.close();
});

test("items that can't be read back are not taken for an empty queue: the failure shows, and they come once reads work", () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir, 'max_memory_size = "4KiB"\n'));
  for (let i = 0; i < 50; i++) queues.add("q", bytes(payload(i)), 0, NOW);
  flushJournals();
  const queue = queues.get("q")!;
  const faults = FaultInjector.install();
  const taken: number[] = [];
  try {
    faults.set([{ op: "read", code: "EIO" }]);
    for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) taken.push(Number(text(item.data).split(":")[0]));
    expect(queue.readFailure).toMatch(/reading items back from the journal failed: EIO/);
    expect(queue.stats().items).toBe(50 - taken.length);
    faults.clear();
    queues.maintainJournals();
    expect(queue.readFailure).toBeNull();
  } finally {
    faults.uninstall();
  }
  taken.push(...take(queues, "q", 50 - taken.length));
  expect(taken).toEqual(Array.from({ length: 50 }, (_, i) => i));
  queues.close();
});
