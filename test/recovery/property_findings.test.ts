/**
 * Bugs the journal property test (test/journal/journal_properties.test.ts) found, each reduced to
 * its smallest case: a read-back that missed records not yet written, a segment deleted before the
 * removal that made it dead was on disk, and open items returned to the head at start-up that
 * stayed open in the journal.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/config/schema.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { OP_ADD, OP_REMOVE } from "../../src/journal/record.ts";
import { scanJournal } from "../../src/journal/scan.ts";
import { sealedPath } from "../../src/journal/segment_files.ts";
import type { SyncPolicy } from "../../src/journal/sync_policy.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const NOW = 1_795_000_000_000;
const item = (n: number, size = 10) => new Uint8Array(size).fill(n);

/** A queue on the journal in `dir` (tiny segments; `memory` bytes in memory, the rest read back). */
function queueIn(dir: string, memory = Infinity, policy: SyncPolicy = { kind: "never" }): PersistentQueue {
  const config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, maxJournalSize: 64, maxMemorySize: memory, syncJournal: policy };
  const opened = openQueueJournal(dir, "q", { segmentSize: 64, memoryBudget: memory, policy });
  return new PersistentQueue("q", config, opened.journal, opened, { expired: () => null });
}

const firstBytes = (q: PersistentQueue, count: number, take: (q: PersistentQueue) => Uint8Array | undefined = (q) => q.remove(NOW)?.data) =>
  Array.from({ length: count }, () => take(q)?.[0]);

test("a read-back that starts in a sealed segment and runs into the active one sees records not yet written", () => {
  const q = queueIn(tempDir(), 0); // every item is on disk only
  q.add(item(1), 0, NOW);
  q.add(item(2), 0, NOW);
  flushJournals(); // written; the segment is over 64 bytes: sealed
  q.add(item(3), 0, NOW); // its ADD waits in the batch, for the new active segment
  expect(firstBytes(q, 3)).toEqual([1, 2, 3]);
  expect(q.stats().items).toBe(0);
  q.close();
});

for (const policy of [{ kind: "never" }, { kind: "always" }] as const) {
  test(`a segment is deleted only once the removal that made it dead is on disk (sync_journal = ${policy.kind})`, async () => {
    const dir = tempDir();
    const q = queueIn(dir, Infinity, policy);
    q.add(item(1, 50), 0, NOW);
    flushJournals(); // sealed
    q.add(item(2, 50), 0, NOW);
    flushJournals(); // sealed too
    q.remove(NOW); // item 1's REMOVE waits in the batch (its get reply waits for it)
    const removal = q.commit;
    q.maintainJournal();
    // A kill -9 now: item 1 is either still added (its segment kept) or removed (its REMOVE written).
    const crashed = tempDir();
    copyDataDir(dir, crashed);
    expect(mentions(crashed, OP_ADD, 1) || mentions(crashed, OP_REMOVE, 1)).toBe(true);
    await new Promise<void>((resolve) => removal.onSettled(resolve));
    expect(removal.state).toBe("durable");
    q.maintainJournal();
    expect(existsSync(sealedPath(dir, "q", 1))).toBe(false);
    q.close();
  });
}

/** Whether any journal file in `dir` holds an intact `op` record for item `id`. */
function mentions(dir: string, op: typeof OP_ADD | typeof OP_REMOVE, id: number): boolean {
  return readdirSync(dir)
    .filter((name) => /^q(\.\d+)?$/.test(name))
    .some((name) => {
      let found = false;
      scanJournal(readFileSync(join(dir, name)), NOW, {
        current: (record) => void (found ||= record.op === op && ("item" in record ? record.item.id : "id" in record ? record.id : -1) === id),
      });
      return found;
    });
}

test("open items returned to the head at start-up are no longer open in the journal", () => {
  const dir = tempDir();
  const first = queueIn(dir);
  for (const n of [1, 2, 3]) first.add(item(n), 0, NOW);
  first.open(NOW);
  first.open(NOW);
  first.close(); // 1 and 2 are open: they come back at the head
  const second = queueIn(dir);
  second.abort(second.open(NOW)!, NOW);
  second.close();
  const third = queueIn(dir);
  expect(firstBytes(third, 3)).toEqual([1, 2, 3]);
  third.close();
});
