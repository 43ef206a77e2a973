/**
 * Consumed sealed segments (Journal.releaseDead, dropDrained): moved aside in the upkeep's turn
 * and unlinked off the event loop (deferred_removal.ts), never unlinked in the turn (issue 9). A
 * crash at any step (the directory copied before each rename, delete, open or background delete,
 * and replayed as the next start would) replays to the same live items: none lost, none consumed
 * brought back. A segment that can't be moved aside is deleted in the turn, as before.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import type { Journal } from "../../src/journal/journal.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { snapshotsAround } from "../helpers/dir_snapshots.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const SEALED = "/q\\.\\d+$";
const item = (id: number) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: bytes(`${id}:`.padEnd(100, ".")) });
const sealed = (dir: string) => readdirSync(dir).filter((name) => /^q\.\d+$/.test(name));
const temps = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".tmp"));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** The ids a start on `dir` serves, in order. */
function replayed(dir: string): number[] {
  const { journal, items } = openQueueJournal(dir, "q", { segmentSize: 500 });
  journal.close();
  return items.map((i) => Number(text(i.data).split(":")[0]));
}

/**
 * Queue q with segments of 500 bytes: items 1..40 added (a write each, so segments are sealed as
 * they fill), then 1..30 removed: their REMOVE records are in later segments than their ADDs.
 */
function consumedJournal(dir: string): Journal {
  const { journal } = openQueueJournal(dir, "q", { segmentSize: 500 });
  for (const id of range(1, 41)) {
    journal.appendAdd(item(id));
    flushJournals();
  }
  for (const id of range(1, 31)) {
    journal.appendRemove(id);
    flushJournals();
  }
  return journal;
}

test("consumed segments leave their names in the upkeep's turn without an unlink there; they are unlinked in the background", async () => {
  const dir = tempDir();
  const journal = consumedJournal(dir);
  const before = sealed(dir).length;
  expect(before).toBeGreaterThan(5);
  const faults = FaultInjector.install();
  try {
    // Never fails (after: Infinity): counts the unlinks made in the turn, and those in the background.
    faults.set([
      { op: "remove", code: "EIO", after: Infinity },
      { op: "removeAsync", code: "EIO", after: Infinity },
    ]);
    journal.releaseDead(31, null);
    const left = sealed(dir).length;
    expect(left).toBeLessThan(before);
    expect(faults.calls[0]).toBe(0);
    await backgroundRemovals();
    expect(faults.calls[1]).toBe(before - left);
  } finally {
    faults.uninstall();
  }
  expect(temps(dir)).toEqual([]);
  journal.close();
  expect(replayed(dir)).toEqual(range(31, 41));
});

test("a drained queue's segments: a crash at any step replays to the live items, never bringing back consumed ones", async () => {
  const dir = tempDir();
  const journal = consumedJournal(dir);
  const snapshots = await snapshotsAround(dir, () => {
    for (const id of range(31, 41)) journal.appendRemove(id);
    flushJournals();
    journal.dropDrained();
    for (let calls = 0; journal.releasing && calls < 100; calls++) journal.dropDrained();
  });
  expect(snapshots.length).toBeGreaterThan(5);
  const outcomes = snapshots.map(replayed);
  for (const outcome of outcomes) expect(outcome).toEqual([]);
  expect(temps(dir)).toEqual([]);
  expect(sealed(dir)).toEqual([]);
  journal.close();
});

test("consumed segments with live items after them: a crash at any step replays to exactly the live items", async () => {
  const dir = tempDir();
  const journal = consumedJournal(dir);
  const before = sealed(dir).length;
  const snapshots = await snapshotsAround(dir, () => {
    journal.releaseDead(31, null);
    // The copies make each turn's slice run out early: the rest go at the next calls.
    for (let calls = 0; journal.releasing && calls < 100; calls++) journal.releaseDead(31, null);
  });
  const gone = before - sealed(dir).length;
  expect(gone).toBeGreaterThan(5);
  // A step for each segment moved aside and one for its delete in the background, then the end.
  expect(snapshots.length).toBe(2 * gone + 1);
  for (const copy of snapshots) expect(replayed(copy)).toEqual(range(31, 41));
  expect(temps(dir)).toEqual([]);
  journal.close();
});

test("a consumed segment that can't be moved aside is deleted in the turn; one whose background delete fails is left for start-up (and not replayed)", async () => {
  const dir = tempDir();
  const journal = consumedJournal(dir);
  const faults = FaultInjector.install();
  try {
    faults.set([
      { op: "rename", code: "EACCES", path: SEALED, times: 1 },
      { op: "removeAsync", code: "EIO", times: 1 },
    ]);
    journal.releaseDead(31, null);
    await backgroundRemovals();
    expect(faults.hits).toBe(2);
  } finally {
    faults.uninstall();
  }
  expect(journal.releasing).toBe(false);
  expect(temps(dir).length).toBe(1);
  journal.close();
  expect(replayed(dir)).toEqual(range(31, 41));
});
