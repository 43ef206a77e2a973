/**
 * A journal flush that throws (a bug, caught by the flush scheduler, which calls `flushBroke`)
 * wherever it stops, leaves every record appended either in the file with its commit settled or
 * passed on, or kept for the retry: never a commit left pending for good (its reply, and every
 * reply behind it, would hang), never a commit settled durable for records that are not in the
 * file, never a record written twice.
 */
import { describe, expect, spyOn, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { FsyncPipeline } from "../../src/journal/fsync_pipeline.ts";
import { RecordBatch } from "../../src/journal/record_batch.ts";
import { log } from "../../src/log.ts";
import { openQueueJournal, type TestJournalOptions } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const item = (id: number, size: number) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: new Uint8Array(size).fill(id) });

/** What a restart would find if the server died now: the ids replayed from a copy of the journal. */
function afterCrash(dir: string, options: TestJournalOptions): number[] {
  const copy = tempDir();
  copyFileSync(join(dir, "q"), join(copy, "q"));
  const { journal, items } = openQueueJournal(copy, "q", options);
  journal.close();
  return items.map((i) => i.id);
}

/** Runs `body` with log.error silenced; returns the lines it logged. */
function quietly(body: () => void): string[] {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    body();
    return logged.mock.calls.map((call) => String(call[0]));
  } finally {
    logged.mockRestore();
  }
}

describe("a journal flush that throws (a bug)", () => {
  test("while taking the batch to write: its records wait for the retry, which writes them before their commit says durable", () => {
    const options = { policy: { kind: "always" } } as const;
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", options);
    journal.appendAdd(item(1, 100));
    flushJournals();
    const take = spyOn(RecordBatch.prototype, "take").mockImplementationOnce(() => {
      throw new Error("a bug while taking a batch");
    });
    try {
      const commit = journal.appendAdd(item(2, 100));
      const lines = quietly(() => flushJournals());
      expect(lines).toEqual(["internal error writing a journal: a bug while taking a batch"]);
      expect(commit.state).toBe("failed");
      journal.retry();
      expect(journal.failure).toBeNull();
      expect(commit.retry?.state).toBe("durable");
      expect(afterCrash(dir, options)).toEqual([1, 2]);
    } finally {
      take.mockRestore();
    }
    journal.close();
  });

  test("once a batch is in the file, before its commit is passed on: the commit settles with the retry, and its records are in the file once", () => {
    const options = { policy: { kind: "always" } } as const;
    const dir = tempDir();
    const { journal } = openQueueJournal(dir, "q", options);
    journal.appendAdd(item(1, 100));
    flushJournals();
    const add = spyOn(FsyncPipeline.prototype, "add").mockImplementationOnce(() => {
      throw new Error("a bug after a write");
    });
    try {
      const commit = journal.appendAdd(item(2, 100));
      const lines = quietly(() => flushJournals());
      expect(lines).toEqual(["internal error writing a journal: a bug after a write"]);
      expect(journal.failure).not.toBeNull();
      journal.retry();
      expect(journal.failure).toBeNull();
      expect(commit.state).toBe("failed");
      expect(commit.retry?.state).toBe("durable");
      expect(afterCrash(dir, options)).toEqual([1, 2]);
    } finally {
      add.mockRestore();
    }
    journal.close();
  });
});
