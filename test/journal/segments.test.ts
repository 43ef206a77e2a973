import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import type { Journal } from "../../src/journal/journal.ts";
import { configureLog } from "../../src/log.ts";
import { replayJournal } from "../helpers/replay.ts";
import { packPath, sealedPath } from "../../src/journal/segment_files.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const item = (id: number, size = 100) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: bytes(`${id}:`.padEnd(size, ".")) });
const files = (dir: string) => readdirSync(dir).filter((name) => !name.startsWith(".")).sort();
const idOf = (data: Uint8Array) => Number(text(data).split(":")[0]);
const ids = (dir: string, options = {}) => openQueueJournal(dir, "q", options).items.map((i) => idOf(i.data));

/**
 * Opens queue q with segments of `segmentSize` bytes and adds items 1..count, flushing after each
 * (so segments are sealed as they fill); items 1..removeThrough are removed right after their add.
 */
function addFlushed(dir: string, segmentSize: number, count: number, removeThrough = 0): Journal {
  const { journal } = openQueueJournal(dir, "q", { segmentSize });
  for (let id = 1; id <= count; id++) {
    journal.appendAdd(item(id));
    if (id <= removeThrough) journal.appendRemove(id);
    flushJournals();
  }
  return journal;
}

describe("journal segments", () => {
  test("the active segment is sealed when it outgrows the segment size; replay reads them in order", () => {
    const dir = tempDir();
    const journal = addFlushed(dir, 1000, 30);
    journal.appendRemove(1);
    journal.close();
    expect(files(dir).length).toBeGreaterThan(3);
    expect(files(dir)).toContain("q");
    expect(files(dir)).toContain("q.0000000001");
    expect(ids(dir)).toEqual(Array.from({ length: 29 }, (_, i) => i + 2));
  });

  test("dead segments are deleted oldest first, never one a live item or the read-behind position is in", () => {
    const dir = tempDir();
    const journal = addFlushed(dir, 500, 20);
    const before = files(dir).length;
    journal.releaseDead(1, null);
    expect(files(dir).length).toBe(before);
    journal.releaseDead(10, null);
    const after = files(dir).length;
    expect(after).toBeLessThan(before);
    expect(existsSync(sealedPath(dir, "q", 1))).toBe(false);
    expect(existsSync(sealedPath(dir, "q", 3))).toBe(true);
    journal.releaseDead(Infinity, { seq: 4, offset: 16 });
    expect(existsSync(sealedPath(dir, "q", 3))).toBe(false);
    expect(existsSync(sealedPath(dir, "q", 4))).toBe(true);
    journal.close();
  });

  test("dead segments are deleted a slice at a time when moving them aside is slow: oldest first, the rest at later calls; a stop part-way brings nothing back", () => {
    const realRename = fileSystem.rename;
    fileSystem.rename = (from, to) => {
      const end = performance.now() + 6; // longer than a slice: one segment per call
      while (performance.now() < end);
      realRename(from, to);
    };
    try {
      const dir = tempDir();
      const sealed = () => files(dir).filter((name) => name !== "q");
      let journal = addFlushed(dir, 500, 20, 20); // every item removed: every sealed segment is dead
      const before = sealed();
      expect(before.length).toBeGreaterThan(3);
      journal.dropDrained();
      expect(journal.releasing).toBe(true);
      expect(existsSync(sealedPath(dir, "q", 1))).toBe(false);
      expect(existsSync(sealedPath(dir, "q", 2))).toBe(true);
      journal.close(); // a stop part-way: the dead segments left replay to nothing
      expect(ids(dir)).toEqual([]);

      journal = openQueueJournal(dir, "q", { segmentSize: 500 }).journal;
      journal.dropDrained();
      const left = sealed().length;
      let calls = 0;
      for (; journal.releasing && calls < 100; calls++) journal.dropDrained();
      expect(journal.releasing).toBe(false);
      expect(calls).toBe(left); // one segment a call, and no new segment for each call
      expect(sealed()).toEqual([]);
      journal.close();
      expect(ids(dir)).toEqual([]);
    } finally {
      fileSystem.rename = realRename;
    }
  });

  test("compaction replaces the sealed segments with the live items; appends meanwhile are kept", async () => {
    const dir = tempDir();
    const journal = addFlushed(dir, 2000, 200, 195);
    const before = journal.size;
    const live = [196, 197, 198, 199, 200].map((id) => ({ item: item(id), open: id === 196 }));
    const done = journal.compact(live);
    journal.appendAdd(item(201));
    journal.appendRemove(197);
    flushJournals();
    await done;
    expect(journal.size).toBeLessThan(before / 5);
    journal.close();
    expect(ids(dir)).toEqual([196, 198, 199, 200, 201]);
    expect(files(dir).filter((name) => name.endsWith(".pack"))).toEqual([]);
  });

  test("segments consumed while a compaction's pack is written: none after its seq goes before it is installed", async () => {
    const realAsync = fileSystem.fsyncAsync;
    const { promise: packSyncing, resolve } = Promise.withResolvers<() => void>();
    let held = false;
    // The pack's fsync returns when let (a slow disk); the install's directory fsyncs after it go through.
    fileSystem.fsyncAsync = (fd, done) => (held ? realAsync(fd, done) : ((held = true), resolve(() => realAsync(fd, done))));
    const logFile = join(tempDir(), "log");
    try {
      const dir = tempDir();
      const { journal } = openQueueJournal(dir, "q", { segmentSize: 1000 });
      journal.appendAdd(item(1));
      journal.appendAdd(item(2));
      const compacted = journal.compact([1, 2].map((id) => ({ item: item(id), open: false }))); // the pack replaces segment 1
      const release = await packSyncing;
      journal.appendRemove(2);
      journal.appendAdd(item(3, 2000));
      journal.appendRemove(3);
      flushJournals(); // sealed as segment 2: the REMOVE of 2, an item of the pack
      journal.appendRemove(1);
      journal.appendAdd(item(4));
      flushJournals();
      journal.releaseDead(4, null); // segments 1 and 2 hold no live item
      release();
      await compacted;
      journal.close();
      configureLog("info", logFile);
      expect(ids(dir)).toEqual([4]);
      expect(readFileSync(logFile, "utf8")).not.toContain("damaged");
    } finally {
      fileSystem.fsyncAsync = realAsync;
      configureLog("info", null);
    }
  });

  test("a rebuilt journal's pack waiting for its install is not deleted as dead while items in it are live", () => {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      const journal = addFlushed(dir, 500, 20, 10);
      // The last directory fsync of the install fails: the pack is in place, its install not finished.
      faults.set([{ op: "fsync", code: "EIO", path: "/kestrel-unit-[^/]+$", after: 3, times: 1 }]);
      journal.rebuild(Array.from({ length: 10 }, (_, i) => ({ item: item(11 + i), open: false })), null);
      expect(faults.hits).toBe(1);
      faults.clear();
      journal.releaseDead(11, null);
      journal.close();
      expect(ids(dir)).toEqual(Array.from({ length: 10 }, (_, i) => 11 + i));
    } finally {
      faults.uninstall();
    }
  });

  test("a compaction a crash interrupted after its commit point (even mid-deletion) is finished at the next start", () => {
    const dir = tempDir();
    addFlushed(dir, 500, 20, 15).close();
    // A second journal, compacted, stands in for the pack: its single segment is the pack.
    const other = tempDir();
    const { journal: packed } = openQueueJournal(other, "q");
    for (let id = 16; id <= 20; id++) packed.appendAdd(item(id));
    packed.close();
    const sealed = files(dir).filter((name) => /^q\.\d+$/.test(name));
    const last = Number(sealed.at(-1)!.split(".")[1]);
    copyFileSync(join(other, "q"), packPath(dir, "q", last));
    // The crash also hit in the middle of deleting the replaced segments: the oldest is gone.
    rmSync(sealedPath(dir, "q", 1));
    expect(ids(dir)).toEqual([16, 17, 18, 19, 20]);
    expect(files(dir).filter((name) => /^q\.\d+/.test(name))).toEqual([`q.${String(last).padStart(10, "0")}`]);
  });

  test("two packs left by a crash: the older one goes before the newer is renamed into place", () => {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      addFlushed(dir, 500, 20, 15).close();
      const sealed = files(dir).filter((name) => /^q\.\d+$/.test(name)).map((name) => Number(name.split(".")[1]));
      const packOf = (first: number) => {
        const other = tempDir();
        const { journal } = openQueueJournal(other, "q");
        for (let id = first; id <= 20; id++) journal.appendAdd(item(id));
        journal.close();
        return join(other, "q");
      };
      copyFileSync(packOf(1), packPath(dir, "q", sealed[0]!)); // older: 1..15 were consumed since
      copyFileSync(packOf(16), packPath(dir, "q", sealed.at(-1)!));
      faults.set([{ op: "remove", code: "EIO", path: "\\.pack$", times: 1 }]);
      expect(() => openQueueJournal(dir, "q")).toThrow("injected fault");
      faults.clear();
      expect(ids(dir)).toEqual([16, 17, 18, 19, 20]);
    } finally {
      faults.uninstall();
    }
  });

  test("replay within a memory budget: items past it stay on disk and are read back when needed", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", { segmentSize: 3000 });
    for (let id = 1; id <= 100; id++) journal.appendAdd(item(id));
    for (let id = 1; id <= 60; id++) journal.appendRemove(id);
    journal.appendOpen(61);
    journal.close();
    const opened = openQueueJournal(dir, "q", { memoryBudget: 1000 });
    const inMemory = opened.items.map((i) => i.id);
    expect(inMemory[0]).toBe(61);
    expect(inMemory.length).toBeLessThan(30);
    expect(opened.disk).not.toBeNull();
    expect(inMemory.length + opened.disk!.count).toBe(40);
    expect(inMemory).toEqual(Array.from({ length: inMemory.length }, (_, i) => 61 + i));
    opened.journal.close();
  });

  test("a sealed segment renamed away by hand leaves the rest readable", () => {
    const dir = tempDir();
    addFlushed(dir, 500, 10).close();
    const renamed = replayJournal(readFileSync(sealedPath(dir, "q", 2)), Date.now()).items.map((i) => idOf(i.data));
    expect(renamed.length).toBeGreaterThan(0);
    renameSync(sealedPath(dir, "q", 2), join(dir, "q.0000000002.bak"));
    const left = ids(dir);
    expect(left.length).toBeGreaterThan(0);
    expect(left).toEqual([...left].sort((a, b) => a - b));
    expect(left).toEqual(Array.from({ length: 10 }, (_, i) => i + 1).filter((id) => !renamed.includes(id)));
  });
});
