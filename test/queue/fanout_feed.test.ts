/**
 * A wide fanout's children fed over turns (fanout_feed.ts) while one child's journal is rebuilt
 * over turns with items waiting on disk (journal_rebuild.ts): the set's commit (its STORED) must
 * not settle before that child has the item.
 */
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Commit } from "../../src/journal/commit.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { WIDE_FANOUT } from "../../src/queue/fanout_feed.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NOW = Date.now();
const CONFIG = 'max_memory_size = "64KiB"\nmax_journal_size = "1MiB"\nexpiration_timer_frequency = 0\n';

/** Queues wide+c0 .. wide+c1000 (a wide fanout of `wide`), wide+c0 with about 4 MiB waiting on disk, its journal files deleted. */
function wideWithChildOnDisk(dir: string): QueueCollection {
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  for (let i = 0; i <= WIDE_FANOUT; i++) queues.getOrCreate(`wide+c${i}`);
  const child = queues.get("wide+c0")!;
  for (let i = 0; i < 4000; i++) child.add(bytes(`${i}:`.padEnd(1000, "x")), 0, NOW);
  flushJournals();
  expect(child.diskRegion()).not.toBeNull();
  return queues;
}

/** Deletes queue `name`'s active journal file under the running server (the items in its sealed segments are copied by the rebuild). */
function removeJournal(dir: string, name: string): void {
  rmSync(join(dir, name));
}

/** The first part of the last item wide+c0 serves after a restart on `dir`. */
function lastAfterRestart(dir: string): string {
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  const queue = queues.get("wide+c0")!;
  let last = "";
  for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) last = text(item.data).split(":")[0]!;
  queues.close();
  return last;
}

test("a wide fanout's set acknowledged while a child's journal is rebuilt with items waiting on disk: that child gets the item, after them, and has it after a restart", async () => {
  const dir = tempDir();
  const queues = wideWithChildOnDisk(dir);
  const child = queues.get("wide+c0")!;
  const commit = queues.add("wide", bytes("set:x"), 0, NOW) as Commit;
  expect(typeof commit).toBe("object");
  // The child's journal files go under the server: its upkeep rebuilds it over turns, from before the feed reaches it.
  removeJournal(dir, "wide+c0");
  child.maintainJournal(false);
  expect(child.journalRebuilding).toBe(true);
  await new Promise<void>((resolve) => commit.onSettled(resolve));
  expect(commit.state).toBe("durable");
  expect(child.journalRebuilding).toBe(false);
  queues.close();
  expect(lastAfterRestart(dir)).toBe("set");
});

test("a clean stop while a wide fanout's set waits for a child whose rebuild copies items on disk: the rebuild is put in place and the child gets the item", () => {
  const dir = tempDir();
  const queues = wideWithChildOnDisk(dir);
  const child = queues.get("wide+c0")!;
  const commit = queues.add("wide", bytes("set:x"), 0, NOW) as Commit;
  removeJournal(dir, "wide+c0");
  child.maintainJournal(false);
  expect(child.journalRebuilding).toBe(true);
  queues.close();
  expect(commit.state).toBe("durable");
  expect(lastAfterRestart(dir)).toBe("set");
});
