/**
 * Journal.retire (a reload turned the journal off, every item in memory): its files go without a
 * long turn, and a crash at any step (the data directory copied before each rename, delete or
 * open, and loaded as the next start would) replays to the journal as it was or to nothing, never
 * to an older state that would bring consumed items back.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import type { Commit } from "../../src/journal/commit.ts";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { drainCopy, snapshotsAround } from "../helpers/dir_snapshots.ts";
import { settled } from "../helpers/journal.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CONFIG = `max_memory_size = "8KiB"\nmax_journal_size = "16KiB"\n`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test("turning the journal off: at every step the files replay to the queue as it was or to nothing; at the end no file is left", async () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  for (let i = 0; i < 200; i++) {
    queues.add("q", bytes(`${i}:`.padEnd(500, "x")), 0, Date.now());
    if (i % 20 === 19) flushJournals(); // a write each, so the journal rotates
  }
  const queue = queues.get("q")!;
  for (let i = 0; i < 50; i++) queue.remove(Date.now());
  flushJournals();
  expect(readdirSync(dir).filter((name) => name.startsWith("q.")).length).toBeGreaterThan(3);
  let done: Commit | null = null;
  const snapshots = await snapshotsAround(dir, async () => {
    done = queues.prepareReconfigure(configFor(dir, `${CONFIG}journal = false\n`))();
    await settled(done);
    await backgroundRemovals();
  });
  expect([done!.state, queue.hasJournal]).toEqual(["durable", false]);
  const outcomes = snapshots.map((copy) => drainCopy(copy, CONFIG));
  const full = range(50, 200);
  for (const outcome of outcomes) expect(outcome.length === 0 ? [] : outcome).toEqual(outcome.length === 0 ? [] : full);
  // Full up to the commit, empty from it on: never anything else.
  const firstEmpty = outcomes.findIndex((outcome) => outcome.length === 0);
  expect(firstEmpty).toBeGreaterThan(0);
  expect(outcomes.slice(firstEmpty).every((outcome) => outcome.length === 0)).toBe(true);
  expect(readdirSync(dir).filter((name) => name !== ".kestrel")).toEqual([]);
  queues.close();
});

test("a power loss at any step: the empty pack is on disk (a directory fsync) before a file it replaces goes, and goes only once their removal is on disk", async () => {
  const dir = tempDir();
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  for (let i = 0; i < 100; i++) {
    queues.add("q", bytes(`${i}:`.padEnd(500, "x")), 0, Date.now());
    if (i % 20 === 19) flushJournals();
  }
  const queue = queues.get("q")!;
  for (let i = 0; i < 30; i++) queue.remove(Date.now());
  flushJournals();
  // What reaches the directory, in order: the pack's commit, a replayed file's rename or delete,
  // the pack's delete, a directory fsync (until one, the others may reach the disk in any order).
  const events: string[] = [];
  const directories = new Set<number>();
  const real = { rename: fileSystem.rename, remove: fileSystem.remove, open: fileSystem.open, fsync: fileSystem.fsync, fsyncAsync: fileSystem.fsyncAsync };
  const kind = (path: string) => (/\/q\.\d+\.pack$/.test(path) ? "pack" : /\/q(\.\d+)?$/.test(path) ? "segment" : "other");
  fileSystem.rename = (from, to) => (events.push(kind(to) === "pack" ? "commit" : kind(from) === "segment" ? "drop" : "other"), real.rename(from, to));
  fileSystem.remove = (path) => (events.push(kind(path) === "pack" ? "unpack" : kind(path) === "segment" ? "drop" : "other"), real.remove(path));
  fileSystem.open = (path, flags, mode) => {
    const fd = real.open(path, flags, mode);
    if (path === dir) directories.add(fd);
    else directories.delete(fd);
    return fd;
  };
  fileSystem.fsync = (fd) => (directories.has(fd) ? events.push("dirsync") : undefined, real.fsync(fd));
  // Off the event loop: the directory's rename or delete is on disk once the fsync returns.
  fileSystem.fsyncAsync = (fd, done) => {
    const isDirectory = directories.has(fd);
    real.fsyncAsync(fd, (error) => (isDirectory && error === null ? events.push("dirsync") : undefined, done(error)));
  };
  try {
    await settled(queues.prepareReconfigure(configFor(dir, `${CONFIG}journal = false\n`))());
    await backgroundRemovals();
  } finally {
    Object.assign(fileSystem, real);
  }
  const commit = events.indexOf("commit");
  const drops = events.flatMap((event, i) => (event === "drop" && i > commit ? [i] : []));
  const unpack = events.indexOf("unpack");
  expect([commit >= 0, drops.length > 1, unpack > drops.at(-1)!]).toEqual([true, true, true]);
  const synced = (from: number, to: number) => events.slice(from + 1, to).includes("dirsync");
  expect(synced(commit, drops[0]!)).toBe(true);
  expect(synced(drops.at(-1)!, unpack)).toBe(true);
  queues.close();
});

test("the directory fsync after the empty pack's rename fails: every file is moved aside at once (then deleted), the pack too", async () => {
  const faults = FaultInjector.install();
  try {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, `max_journal_size = "16KiB"\n`));
    for (let i = 0; i < 100; i++) {
      queues.add("q", bytes(`${i}:`.padEnd(500, "x")), 0, Date.now());
      if (i % 20 === 19) flushJournals();
    }
    flushJournals();
    // The directory fsync after the pack's rename (off the event loop) fails.
    faults.set([{ op: "fsyncAsync", code: "EIO", path: "/kestrel-unit-[^/]+$", times: 1 }]);
    const done = queues.prepareReconfigure(configFor(dir, `max_journal_size = "16KiB"\njournal = false\n`))();
    await backgroundRemovals();
    expect([faults.hits, done.state, queues.get("q")!.hasJournal]).toEqual([1, "durable", false]);
    expect(readdirSync(dir).filter((name) => !name.startsWith("."))).toEqual([]);
    await backgroundRemovals();
    expect(readdirSync(dir).filter((name) => name !== ".kestrel")).toEqual([]);
    queues.close();
  } finally {
    faults.uninstall();
  }
});

test("a delete of a queue whose journal is its active file alone (erased at once) settles only once a directory fsync put the file's removal on disk", async () => {
  for (const sync of ["never", "always"]) {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, `sync_journal = "${sync}"\n`));
    for (let i = 0; i < 10; i++) queues.add("q", bytes(`${i}:`), 0, Date.now());
    flushJournals();
    expect(readdirSync(dir).filter((name) => name === "q" || name.startsWith("q."))).toEqual(["q"]);
    // What reaches the directory, in order: the active file moved away, directory fsyncs (done off the event loop).
    const events: string[] = [];
    const directories = new Set<number>();
    const real = { rename: fileSystem.rename, open: fileSystem.open, fsyncAsync: fileSystem.fsyncAsync };
    fileSystem.rename = (from, to) => (/\/q$/.test(from) ? events.push("drop") : undefined, real.rename(from, to));
    fileSystem.open = (path, flags, mode) => {
      const fd = real.open(path, flags, mode);
      if (path === dir) directories.add(fd);
      else directories.delete(fd);
      return fd;
    };
    fileSystem.fsyncAsync = (fd, done) => {
      const isDirectory = directories.has(fd);
      real.fsyncAsync(fd, (error) => (isDirectory && error === null ? events.push("dirsync") : undefined, done(error)));
    };
    try {
      const gone = queues.delete("q");
      await settled(gone);
      events.push("answered");
    } finally {
      Object.assign(fileSystem, real);
    }
    // A power loss before the directory fsync could bring the file back, with every item the delete dropped.
    expect(`${sync}: ${events.join(" ")}`).toBe(`${sync}: drop dirsync answered`);
    queues.close();
  }
});
