/**
 * A queue whose items go on to another queue (move_expired_to, fanout) while that queue can't
 * write its journal: nothing is dropped on the way, nothing is stored in one and not the other,
 * and a crash in between moves an item again rather than losing it.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const faults = FaultInjector.install();
afterEach(() => faults.clear());
afterAll(() => faults.uninstall());

const NOW = Date.now();
const CONFIG = '[queues.slow]\nmove_expired_to = "parked"\n';
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function drain(queues: QueueCollection, name: string, now = NOW): string[] {
  const queue = queues.getOrCreate(name);
  const out: string[] = [];
  for (let item = queue.remove(now); item !== undefined; item = queue.remove(now)) out.push(text(item.data));
  return out;
}

describe("move_expired_to a queue that can't write", () => {
  test("expired items wait where they are (never handed out) and move once the target can write", async () => {
    const queues = QueueCollection.load(configFor(tempDir(), CONFIG));
    queues.getOrCreate("parked");
    for (const data of ["a", "b"]) queues.add("slow", bytes(data), NOW + 10, NOW);
    queues.add("slow", bytes("fresh"), 0, NOW);
    await tick();
    faults.set([{ op: "writev", code: "ENOSPC", path: "/parked$" }]);
    queues.add("parked", bytes("x"), 0, NOW); // parked's journal fails with this write
    await tick();
    expect(queues.get("parked")!.journalFailure).toContain("ENOSPC");
    const later = NOW + 20;
    expect(queues.discardAllExpired(later)).toBe(0);
    expect(queues.get("slow")!.remove(later)).toBeUndefined(); // "fresh" waits behind them
    expect(queues.get("slow")!.stats().items).toBe(3);
    faults.clear();
    queues.maintainJournals();
    expect(queues.get("parked")!.journalFailure).toBeNull();
    expect(queues.discardAllExpired(later)).toBe(2);
    expect(drain(queues, "slow", later)).toEqual(["fresh"]);
    expect(drain(queues, "parked", later)).toEqual(["x", "a", "b"]);
    queues.close();
  });

  test("a crash before the target's record is on disk moves the item again instead of losing it", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, CONFIG));
    queues.getOrCreate("parked");
    queues.add("slow", bytes("late"), NOW + 10, NOW);
    await tick();
    // The move happens; parked's write of it then fails, so slow must keep it in its journal.
    faults.set([{ op: "writev", code: "ENOSPC", path: "/parked$" }]);
    expect(queues.discardAllExpired(NOW + 20)).toBe(1);
    flushJournals();
    const crashed = tempDir();
    faults.withoutFaults(() => copyDataDir(dir, crashed));
    faults.clear();
    const again = QueueCollection.load(configFor(crashed, CONFIG));
    expect(again.discardAllExpired(NOW + 20)).toBe(1);
    expect(drain(again, "parked", NOW + 20)).toEqual(["late"]);
    again.close();
    queues.close();
  });
});

test("a queue whose only item is on its way to its move target is not drained: a reset would lose it", () => {
  const dir = tempDir();
  const config = configFor(dir, 'max_journal_size = "1KiB"\n[queues.q]\nmove_expired_to = "t"\n');
  const queues = QueueCollection.load(config);
  queues.getOrCreate("t");
  // Grow q's journal past a segment, drain it, then one item that expires.
  for (let i = 0; i < 20; i++) queues.add("q", bytes("x".repeat(200)), 0, NOW);
  flushJournals();
  while (queues.get("q")!.remove(NOW) !== undefined);
  queues.add("q", bytes("precious"), NOW + 5, NOW);
  flushJournals();
  faults.set([{ op: "writev", code: "EIO", path: "/t$" }]);
  expect(queues.discardAllExpired(NOW + 100)).toBe(1);
  flushJournals(); // t's write of it fails
  queues.get("q")!.maintainJournal();
  flushJournals();
  const crashed = tempDir();
  faults.withoutFaults(() => copyDataDir(dir, crashed));
  faults.clear();
  const again = QueueCollection.load(configFor(crashed, 'max_journal_size = "1KiB"\n[queues.q]\nmove_expired_to = "t"\n'));
  expect([...drain(again, "q", NOW + 100), ...drain(again, "t", NOW + 100)]).toEqual(["precious"]);
  again.close();
  queues.close();
});

describe("fanout to a child that can't write", () => {
  test("the set is refused for the parent and every child, with the child's reason", async () => {
    const queues = QueueCollection.load(configFor(tempDir()));
    queues.getOrCreate("jobs+audit");
    expect(typeof queues.add("jobs", bytes("one"), 0, NOW)).toBe("object");
    await tick();
    faults.set([{ op: "writev", code: "ENOSPC", path: "/jobs\\+audit$" }]);
    queues.add("jobs+audit", bytes("direct"), 0, NOW);
    await tick();
    expect(queues.add("jobs", bytes("two"), 0, NOW)).toBe("unavailable");
    expect(queues.writeFailure("jobs")).toMatch(/^fanout queue 'jobs\+audit': journal write .* ENOSPC/);
    faults.clear();
    queues.maintainJournals();
    expect(typeof queues.add("jobs", bytes("three"), 0, NOW)).toBe("object");
    expect(drain(queues, "jobs")).toEqual(["one", "three"]);
    expect(drain(queues, "jobs+audit")).toEqual(["one", "direct", "three"]);
    queues.close();
  });
});
