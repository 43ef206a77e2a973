/**
 * Journal.reset (a flush): its new state, a pack of the entries given, is written and fsynced off
 * the event loop as a compaction's pack is, and installed with the directory's fsyncs off the
 * event loop too; its commit settles once that is done. The reset makes no fsync in a turn but the
 * directory's one that seals the active segment. Until the commit the files replay to the old journal followed by what was appended
 * since; whatever ends the pack otherwise (a newer reset, a rebuild, a clean stop, the queue going
 * away) settles the commit as what it leaves behind; an install step that fails is finished later.
 */
import { afterEach, expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { fileSystem } from "../../src/journal/files.ts";
import type { Item } from "../../src/journal/item.ts";
import type { PackEntry } from "../../src/journal/pack.ts";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { openQueueJournal, settled } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const item = (id: number): Item => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: bytes(`item ${id}`) });
const queued = (id: number): PackEntry => ({ item: item(id), open: false });
/** The items `dir` replays to, by id (the journal is opened as a next start would, then closed). */
function replayIds(dir: string): number[] {
  const { journal, items } = openQueueJournal(dir);
  journal.close();
  return items.map((replayed) => Number(text(replayed.data).split(" ")[1]));
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const real = { ...fileSystem };
afterEach(() => {
  Object.assign(fileSystem, real);
});

/** A journal in a new directory holding items 1-50 over a few segments. */
function filled() {
  const dir = tempDir();
  const { journal } = openQueueJournal(dir, "q", { segmentSize: 256 });
  for (let id = 1; id <= 50; id++) {
    journal.appendAdd(item(id));
    if (id % 10 === 0) journal.rotate();
  }
  return { dir, journal };
}

test("the reset's turn makes one fsync, the directory's as it seals the active segment; the pack and the directory after each install step are fsynced off the event loop, and the commit settles once it is in place", async () => {
  const { dir, journal } = filled();
  let syncFsyncs = 0;
  let asyncFsyncs = 0;
  fileSystem.fsync = (fd) => (syncFsyncs++, real.fsync(fd));
  fileSystem.fsyncAsync = (fd, done) => (asyncFsyncs++, real.fsyncAsync(fd, done));
  const commit = journal.reset([queued(7)]);
  expect([commit.state, syncFsyncs, asyncFsyncs]).toEqual(["pending", 1, 0]);
  journal.appendAdd(item(51)); // a set after the flush: written to the next segment, kept by the new state
  await settled(commit);
  expect(commit.state).toBe("durable");
  // The pack's fsync, then the directory's after each of the install's three steps; none in a turn.
  expect([syncFsyncs, asyncFsyncs]).toEqual([1, 4]);
  expect(replayIds(dir)).toEqual([7, 51]);
  journal.close();
  expect(replayIds(dir)).toEqual([7, 51]);
});

test("a crash before the commit replays the old journal, then what was appended after the reset", async () => {
  const { dir, journal } = filled();
  const copy = join(tempDir(), "copy");
  let copied = false;
  fileSystem.fsyncAsync = (fd, done) => {
    // The pack is written, its fsync under way: the crash comes now.
    if (!copied) cpSync(dir, copy, { recursive: true });
    copied = true;
    real.fsyncAsync(fd, done);
  };
  const commit = journal.reset([queued(7)]);
  journal.appendAdd(item(51));
  journal.rotate(); // written out before the copy is taken
  await settled(commit);
  expect(copied).toBe(true);
  expect(replayIds(copy)).toEqual([...range(1, 51), 51]);
  expect(replayIds(dir)).toEqual([7, 51]);
  journal.close();
});

test("a pack that can't be written fails the commit, and the old journal stays what replays", async () => {
  const { dir, journal } = filled();
  const faults = FaultInjector.install();
  try {
    faults.set([{ op: "fsyncAsync", code: "EIO", path: "\\.tmp$" }]);
    const commit = journal.reset([queued(7)]);
    await settled(commit);
    expect([commit.state, commit.error]).toEqual(["failed", expect.stringMatching(/^its new journal could not be written: EIO/)]);
  } finally {
    faults.uninstall();
  }
  journal.close();
  expect(replayIds(dir)).toEqual(range(1, 51));
});

test("a reset replaced by another settles with it; a drained queue's upkeep leaves the one under way alone", async () => {
  const { dir, journal } = filled();
  const first = journal.reset([queued(7), queued(8)]);
  journal.dropDrained();
  const second = journal.reset([queued(8)]);
  expect([first.state, second.state]).toEqual(["pending", "pending"]);
  await settled(first);
  expect([first.state, second.state]).toEqual(["durable", "durable"]);
  expect(replayIds(dir)).toEqual([8]);
  journal.close();
});

test("a clean stop writes and commits a reset under way; a rebuild or the journal going away settles it too", async () => {
  const stopped = filled();
  const commit = stopped.journal.reset([queued(7)]);
  stopped.journal.close();
  expect(commit.state).toBe("durable");
  expect(replayIds(stopped.dir)).toEqual([7]);

  const rebuilt = filled();
  const beforeRebuild = rebuilt.journal.reset([queued(7)]);
  rebuilt.journal.rebuild([queued(7)], null);
  expect(beforeRebuild.state).toBe("durable");
  rebuilt.journal.close();
  expect(replayIds(rebuilt.dir)).toEqual([7]);

  const retired = filled();
  const beforeRetire = retired.journal.reset([queued(7)]);
  retired.journal.retire();
  // Settled once the empty pack that replaces the old files is on disk (retire_task.ts).
  await backgroundRemovals();
  expect(beforeRetire.state).toBe("durable");
  expect(replayIds(retired.dir)).toEqual([]);
});

test("an install under way finished at once by other means (an upkeep's finishPendingPack) stops its steps; a step that fails leaves it to the next upkeep", async () => {
  const { dir, journal } = filled();
  const held: Array<() => void> = [];
  let asyncCalls = 0;
  // The pack's fsync goes through; the install's first directory fsync is held.
  fileSystem.fsyncAsync = (fd, done) => (held.length === 0 && asyncCalls++ === 1 ? held.push(() => real.fsyncAsync(fd, done)) : real.fsyncAsync(fd, done));
  const commit = journal.reset([queued(7)]);
  while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
  journal.finishPendingPack();
  expect(replayIds(dir)).toEqual([7]);
  held[0]!();
  await settled(commit);
  expect(commit.state).toBe("durable");
  expect(replayIds(dir)).toEqual([7]);
  journal.close();

  const second = filled();
  const faults = FaultInjector.install();
  try {
    // The rename of the pack into place fails: committed all the same, the install finished later.
    faults.set([{ op: "rename", code: "EIO", path: "\\.pack$", after: 1, times: 1 }]); // the first is its commit
    const failing = second.journal.reset([queued(8)]);
    await settled(failing);
    expect(failing.state).toBe("durable");
    expect(faults.hits).toBe(1);
  } finally {
    faults.uninstall();
  }
  second.journal.finishPendingPack();
  expect(replayIds(second.dir)).toEqual([8]);
  second.journal.close();
});

test("an upkeep's release of dead segments leaves the old journal whole until the reset commits: a crash replays to the old state or the new, never to a part of the flushed items", () => {
  const { dir, journal } = filled();
  journal.appendOpen(35); // a reliable read outstanding at the flush: the only live item after it
  const commit = journal.reset([{ item: item(35), open: true }]);
  // The queue holds only item 35 now: to an upkeep every segment before it looks dead.
  journal.releaseDead(35, null);
  const copy = join(tempDir(), "copy"); // a crash now, the pack not yet committed
  cpSync(dir, copy, { recursive: true });
  expect(commit.state).toBe("pending");
  expect([range(1, 51), [35]]).toContainEqual(replayIds(copy).sort((a, b) => a - b));
  journal.close();
  expect(replayIds(dir)).toEqual([35]);
});

test("a rebuild while the install's last directory fsync is under way (the pack already renamed into place) replaces that segment too: nothing of the reset's pack comes back", async () => {
  const { dir, journal } = filled();
  const held: Array<() => void> = [];
  let asyncCalls = 0;
  // The pack's fsync, then the directory's after each install step: the one after the rename (the fourth) is held.
  fileSystem.fsyncAsync = (fd, done) => (++asyncCalls === 4 ? held.push(() => real.fsyncAsync(fd, done)) : real.fsyncAsync(fd, done));
  const commit = journal.reset([queued(7)]);
  while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
  // Item 7 was taken since: the queue, rebuilt from, holds nothing.
  journal.rebuild([], null);
  held[0]!();
  await settled(commit);
  journal.close();
  expect(replayIds(dir)).toEqual([]);
});
