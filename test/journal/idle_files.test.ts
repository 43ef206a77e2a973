import { describe, expect, spyOn, test } from "bun:test";
import { existsSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FILE_HEADER_SIZE } from "../../src/journal/record.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { MAX_OPEN_FILES, closeIdleFiles, closeIdleFilesInTurns, forget, openFileCount, touch, type IdleClosable } from "../../src/journal/idle_files.ts";
import { log } from "../../src/log.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { configFor } from "../helpers/config.ts";
import { drainQueue } from "../helpers/queues.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const item = (id: number) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: bytes(`item ${id}`) });
const drained = (dir: string) => openQueueJournal(dir).items.map((i) => text(i.data));

/** Two rounds with no use: every idle file is closed. */
function idleTwoRounds(): void {
  closeIdleFiles();
  closeIdleFiles();
}

/** A file whose close takes at least 1 ms and says so in `closed`, as `id`. */
function slowFile<T>(id: T, closed: T[]): IdleClosable {
  return {
    closeIfIdle: () => {
      const end = performance.now() + 1;
      while (performance.now() < end);
      closed.push(id);
      return true;
    },
  };
}

/** Descriptors this process holds on files under `dir`. */
function descriptorsUnder(dir: string): number {
  let count = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) count++;
    } catch {
      // closed while we looked
    }
  }
  return count;
}

describe("journal files opened lazily and closed when idle", () => {
  test("a new queue's journal creates no file until its first write", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir);
    flushJournals();
    expect(existsSync(join(dir, "q"))).toBe(false);
    expect(journal.checkFiles()).toBeNull();
    journal.appendAdd(item(1));
    flushJournals();
    expect(existsSync(join(dir, "q"))).toBe(true);
    journal.close();
    expect(drained(dir)).toEqual(["item 1"]);
  });

  test("an idle journal holds no descriptor; the next write reopens it and appends", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir);
    journal.appendAdd(item(1));
    flushJournals();
    expect(descriptorsUnder(dir)).toBe(1);
    idleTwoRounds();
    expect(descriptorsUnder(dir)).toBe(0);
    expect(journal.checkFiles()).toBeNull();
    journal.appendAdd(item(2));
    flushJournals();
    expect(journal.failure).toBeNull();
    journal.close();
    expect(descriptorsUnder(dir)).toBe(0);
    expect(drained(dir)).toEqual(["item 1", "item 2"]);
  });

  test("past MAX_OPEN_FILES open at once, a journal closes its file right after its write; every journal still reads back", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir));
    const count = MAX_OPEN_FILES + 500;
    for (let i = 0; i < count; i++) queues.add(`q${i}`, bytes(`item ${i}`), 0, Date.now());
    flushJournals();
    expect(openFileCount()).toBeLessThanOrEqual(MAX_OPEN_FILES + 1);
    expect(descriptorsUnder(dir)).toBeLessThanOrEqual(MAX_OPEN_FILES + 1);
    for (let i = 0; i < count; i += 97) queues.add(`q${i}`, bytes(`again ${i}`), 0, Date.now());
    flushJournals();
    queues.close();
    const again = QueueCollection.load(configFor(dir));
    for (let i = 0; i < count; i += 97) expect(drainQueue(again, `q${i}`, Date.now())).toEqual([`item ${i}`, `again ${i}`]);
    expect(drainQueue(again, `q${count - 1}`, Date.now())).toEqual([`item ${count - 1}`]);
    again.close();
  });

  test("a file used in every round stays open", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir);
    for (let id = 1; id <= 3; id++) {
      journal.appendAdd(item(id));
      flushJournals();
      closeIdleFiles();
      expect(descriptorsUnder(dir)).toBe(1);
    }
    journal.close();
  });

  test("a file replaced while closed is not written to: the journal says it was replaced", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir);
    journal.appendAdd(item(1));
    flushJournals();
    idleTwoRounds();
    writeFileSync(join(dir, "other"), "not a journal");
    renameSync(join(dir, "other"), join(dir, "q"));
    expect(journal.checkFiles()).toMatch(/was deleted or replaced/);
    journal.appendAdd(item(2));
    flushJournals();
    expect(journal.failure).toMatch(/replaced by another file while closed/);
    journal.close();
  });

  test("a file deleted while closed is not created again by the next write", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir);
    journal.appendAdd(item(1));
    flushJournals();
    idleTwoRounds();
    rmSync(join(dir, "q"));
    journal.appendAdd(item(2));
    flushJournals();
    expect(journal.failure).toMatch(/ENOENT/);
    expect(existsSync(join(dir, "q"))).toBe(false);
    expect(journal.checkFiles()).toMatch(/was deleted or replaced/);
    journal.close();
  });

  test("a file that appears at a new queue's name is not appended to", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir);
    writeFileSync(join(dir, "q"), "someone else's file");
    expect(journal.checkFiles()).toMatch(/replaced by a file not written by this server/);
    journal.appendAdd(item(1));
    flushJournals();
    expect(journal.failure).toMatch(/is a file not written by this server; move it out of the way/);
    journal.close();
  });

  test("under sync_journal = always a file is not closed while its fsync is owed", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", { policy: { kind: "always" } });
    journal.appendAdd(item(1));
    flushJournals();
    const commit = journal.lastCommit;
    idleTwoRounds();
    if (commit.state === "pending") expect(descriptorsUnder(dir)).toBe(1);
    await new Promise<void>((resolve) => commit.onSettled(resolve));
    expect(commit.state).toBe("durable");
    idleTwoRounds();
    expect(descriptorsUnder(dir)).toBe(0);
    journal.close();
    expect(openFileCount()).toBe(0);
    expect(drained(dir)).toEqual(["item 1"]);
  });

  test("the once-a-second round closes files about 2 ms per turn, going on in the next turns", async () => {
    // Each close takes at least 1 ms here: a 2 ms slice can't close 10 of them.
    const closed: number[] = [];
    const files = Array.from({ length: 10 }, (_, n) => slowFile(n, closed));
    for (const file of files) touch(file);
    closeIdleFiles(); // a round in which they were used: none closes
    expect(closed).toEqual([]);
    closeIdleFilesInTurns();
    expect(closed.length).toBeGreaterThan(0);
    expect(closed.length).toBeLessThan(10);
    let turns = 1;
    while (closed.length < 10) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turns++;
    }
    expect(closed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(turns).toBeGreaterThan(3);
    for (const file of files) forget(file);
    expect(openFileCount()).toBe(0);
  });

  test("a file whose close throws (a bug) is logged once and stays open; the others close, and the next round asks it again", () => {
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      const closed: string[] = [];
      let tries = 0;
      const buggy: IdleClosable = {
        closeIfIdle: () => {
          if (++tries === 1) throw new Error("a bug in a close");
          closed.push("buggy");
          return true;
        },
      };
      const files = [slowFile("a", closed), buggy, slowFile("b", closed)];
      for (const file of files) touch(file);
      closeIdleFiles(); // the round in which they were used
      closeIdleFilesInTurns();
      closeIdleFiles(); // finishes that round, if it went on over turns
      expect(closed.sort()).toEqual(["a", "b"]);
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error closing an idle journal file: a bug in a close"]);
      closeIdleFilesInTurns();
      closeIdleFiles();
      expect(closed).toEqual(["a", "b", "buggy"]);
      for (const file of files) forget(file);
    } finally {
      logged.mockRestore();
    }
  });

  test("a round going on over turns that closeIdleFiles finishes is not run again by the next turn", async () => {
    const closed: string[] = [];
    const idle = Array.from({ length: 6 }, (_, n) => slowFile(`idle${n}`, closed));
    for (const file of idle) touch(file);
    closeIdleFiles(); // the round in which they were used
    closeIdleFilesInTurns(); // closes some now, the rest in later turns...
    closeIdleFiles(); // ...but this finishes the round
    expect(closed.sort()).toEqual(idle.map((_, n) => `idle${n}`).sort());
    const busy = slowFile("used just now", closed);
    touch(busy);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(closed).not.toContain("used just now"); // no second round started by the leftover turn
    forget(busy);
  });

  test("reading items back keeps the segment open only while in use", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", { segmentSize: 1024 });
    for (let id = 1; id <= 50; id++) journal.appendAdd(item(id));
    flushJournals();
    const { items } = journal.readItems({ seq: 1, offset: FILE_HEADER_SIZE }, 10, Infinity);
    expect(items.map((i) => text(i.data))).toEqual(Array.from({ length: 10 }, (_, i) => `item ${i + 1}`));
    idleTwoRounds();
    expect(descriptorsUnder(dir)).toBe(0);
    journal.close();
  });
});
