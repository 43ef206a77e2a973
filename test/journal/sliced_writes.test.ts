/**
 * A batch bigger than a turn's write budget (8 MiB) is written over several turns, in slices of at
 * most 1 MiB, with its commit pending until the last slice: a crash in between keeps every
 * earlier record and drops the half-written one whole, records appended meanwhile follow it, and
 * a failure in the middle cuts its slices back and writes it again whole.
 */
import { describe, expect, spyOn, test } from "bun:test";
import { copyFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Commit } from "../../src/journal/commit.ts";
import { ActiveFile } from "../../src/journal/active_file.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { FILE_HEADER_SIZE } from "../../src/journal/record.ts";
import { WRITE_SLICE } from "../../src/journal/writer.ts";
import { log } from "../../src/log.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const MiB = 1024 * 1024;
// Nothing here rotates: the crash copies read the active file alone.
const LARGE_SEGMENTS = { segmentSize: 64 * MiB };
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const item = (id: number, size: number) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: new Uint8Array(size).fill(id) });
const sizeOf = (dir: string) => statSync(join(dir, "q")).size;

/** What a restart would find if the server died now: the ids and sizes replayed from a copy of the journal. */
function afterCrash(dir: string): Array<[number, number]> {
  const copy = tempDir();
  copyFileSync(join(dir, "q"), join(copy, "q"));
  const { journal, items } = openQueueJournal(copy, "q", LARGE_SEGMENTS);
  journal.close();
  return items.map((i) => [i.id, i.data.length]);
}

async function settled(commit: Commit): Promise<number> {
  let turns = 0;
  while (commit.state === "pending") {
    await turn();
    turns++;
  }
  return turns;
}

describe("sliced journal writes", () => {
  test("a 20 MiB item is written over turns; a crash before its last slice keeps the items before it and drops it", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", LARGE_SEGMENTS);
    journal.appendAdd(item(1, 100));
    flushJournals();
    const before = sizeOf(dir);
    // Time stands still for the scheduler, so only its 8 MiB a turn splits the item (a slow or
    // busy disk would also stop a turn after 3 ms: the next test).
    const now = performance.now;
    performance.now = () => 0;
    try {
      const big = journal.appendAdd(item(2, 20 * MiB));
      await turn();
      expect(big.state).toBe("pending");
      expect(sizeOf(dir)).toBe(before + 8 * MiB);
      expect(afterCrash(dir)).toEqual([[1, 100]]);
      const turns = await settled(big);
      expect(big.state).toBe("durable");
      expect(turns).toBe(2);
    } finally {
      performance.now = now;
    }
    expect(afterCrash(dir)).toEqual([[1, 100], [2, 20 * MiB]]);
    journal.close();
  });

  test("a segment full after a batch is sealed only once the records appended meanwhile went out in slices too", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", { segmentSize: 4 * MiB });
    const now = performance.now;
    performance.now = () => 0;
    try {
      const first = journal.appendAdd(item(1, 12 * MiB));
      await turn();
      const second = journal.appendAdd(item(2, 12 * MiB));
      await turn();
      // The first is written, its segment over 4 MiB; a rotation then would write all of the
      // second in this turn (it seals everything pending first).
      expect(first.state).toBe("durable");
      expect(second.state).toBe("pending");
      await settled(second);
      expect(journal.segmentCount).toBeGreaterThan(1);
    } finally {
      performance.now = now;
    }
    journal.close();
    const reopened = openQueueJournal(dir, "q");
    expect(reopened.items.map((i) => [i.id, i.data.length])).toEqual([
      [1, 12 * MiB],
      [2, 12 * MiB],
    ]);
    reopened.journal.close();
  });

  test("records appended while a batch is half written follow it, in order, and settle after it", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", LARGE_SEGMENTS);
    const big = journal.appendAdd(item(1, 12 * MiB));
    await turn();
    expect(big.state).toBe("pending");
    const order: string[] = [];
    big.onSettled(() => order.push("big"));
    journal.appendAdd(item(2, 10));
    const small = journal.appendRemove(1);
    small.onSettled(() => order.push("small"));
    await settled(small);
    expect(order).toEqual(["big", "small"]);
    expect(afterCrash(dir)).toEqual([[2, 10]]);
    journal.close();
  });

  test("a write that fails in the middle of a batch cuts its slices back; the retry writes it whole, once", async () => {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      const { journal } = openQueueJournal(dir, "q", LARGE_SEGMENTS);
      journal.appendAdd(item(1, 100));
      flushJournals();
      const before = sizeOf(dir);
      faults.set([{ op: "writev", code: "EIO", path: "/q$", after: 3, times: 1 }]);
      const big = journal.appendAdd(item(2, 5 * MiB));
      // The fourth slice fails in whichever turn reaches it (a busy machine spends a turn's 3 ms sooner).
      await settled(big);
      expect(faults.hits).toBe(1);
      expect(big.state).toBe("failed");
      expect(journal.failure).toContain("injected fault");
      expect(sizeOf(dir)).toBe(before);
      faults.clear();
      journal.retry();
      expect(journal.failure).toBeNull();
      expect(big.retry?.state).toBe("durable");
      expect(afterCrash(dir)).toEqual([[1, 100], [2, 5 * MiB]]);
      journal.close();
    } finally {
      faults.uninstall();
    }
  });

  test("a flush that throws (a bug) once a batch's last slice is in the file: the journal fails, and the retry cuts the slices back and writes the batch whole, once", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", LARGE_SEGMENTS);
    journal.appendAdd(item(1, 100));
    flushJournals();
    const logged = spyOn(log, "error").mockImplementation(() => {});
    const appended = spyOn(ActiveFile.prototype, "appended").mockImplementationOnce(() => {
      throw new Error("a bug after a write");
    });
    try {
      const big = journal.appendAdd(item(2, 3 * MiB));
      await settled(big);
      expect(big.state).toBe("failed");
      expect(journal.failure).toBe(`journal write to ${join(dir, "q")} failed: internal error: a bug after a write`);
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error writing a journal: a bug after a write"]);
      journal.retry();
      expect(journal.failure).toBeNull();
      expect(big.retry?.state).toBe("durable");
      expect(afterCrash(dir)).toEqual([[1, 100], [2, 3 * MiB]]);
      journal.close();
    } finally {
      appended.mockRestore();
      logged.mockRestore();
    }
  });

  test("an fsync failing while a batch is half written: the retry writes what the fsync owed, then that batch", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", { ...LARGE_SEGMENTS, policy: { kind: "always" } });
    journal.createFile();
    const fsyncAsync = fileSystem.fsyncAsync;
    const fsyncs: Array<(error: Error | null) => void> = [];
    fileSystem.fsyncAsync = (_fd, done) => void fsyncs.push(done);
    try {
      const small = journal.appendAdd(item(1, 100));
      flushJournals();
      const big = journal.appendAdd(item(2, 12 * MiB));
      await turn();
      expect(fsyncs.length).toBe(1);
      fsyncs[0]!(new Error("EIO: injected"));
      expect(small.state).toBe("failed");
      expect(big.state).toBe("failed");
      expect(afterCrash(dir)).toEqual([]);
    } finally {
      fileSystem.fsyncAsync = fsyncAsync;
    }
    journal.retry();
    expect(journal.failure).toBeNull();
    expect(afterCrash(dir)).toEqual([[1, 100], [2, 12 * MiB]]);
    journal.close();
  });

  test("a turn stops between slices once its 3 ms passed, whatever is left of its 8 MiB", async () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", LARGE_SEGMENTS);
    journal.createFile();
    const before = sizeOf(dir);
    const writev = fileSystem.writev;
    // A disk this slow: each write takes 6 ms, more than a turn's 3 ms of writing.
    fileSystem.writev = (fd, chunks) => {
      const end = performance.now() + 6;
      while (performance.now() < end);
      return writev(fd, chunks);
    };
    try {
      const big = journal.appendAdd(item(1, 3 * MiB));
      await turn();
      expect(sizeOf(dir) - before).toBe(WRITE_SLICE);
      await turn();
      expect(sizeOf(dir) - before).toBe(2 * WRITE_SLICE);
      expect(await settled(big)).toBe(2);
    } finally {
      fileSystem.writev = writev;
    }
    journal.close();
  });

  test("no single write to the file carries more than 1 MiB, even when everything is flushed at once", () => {
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", LARGE_SEGMENTS);
    journal.createFile();
    const sizes: number[] = [];
    const writev = fileSystem.writev;
    fileSystem.writev = (fd, chunks) => {
      sizes.push(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
      return writev(fd, chunks);
    };
    try {
      journal.appendAdd(item(1, 3 * MiB + 5));
      flushJournals();
    } finally {
      fileSystem.writev = writev;
    }
    expect(Math.max(...sizes)).toBe(WRITE_SLICE);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(sizeOf(dir) - FILE_HEADER_SIZE);
    journal.close();
  });
});
