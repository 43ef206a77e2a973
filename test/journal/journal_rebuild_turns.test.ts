/**
 * A journal rebuilt over turns (Journal.rebuildInTurns, RebuildTask): its fsyncs run off the
 * event loop and its steps in the turns that hear them back. A crash at any step (the directory
 * copied before every rename, open for writing, delete and asynchronous fsync, and when each
 * fsync returns) replays to the old files or to the state the rebuild took followed by what was
 * appended after it, never a mix; records appended while it runs are written to no file until
 * the new active file is in place, then to it, and their commits settle only then (under
 * `always`, after their fsync). Items waiting on disk are copied into the pack a slice per turn;
 * a crash between slices replays to the old files.
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { copyFileSync, readdirSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { onceDurable, type Commit } from "../../src/journal/commit.ts";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { closeIdleFiles } from "../../src/journal/idle_files.ts";
import type { Journal } from "../../src/journal/journal.ts";
import type { Position } from "../../src/journal/add_reader.ts";
import type { RebuildEnd, Rebuilt } from "../../src/journal/journal_rebuild.ts";
import type { DiskRegion } from "../../src/journal/replay_state.ts";
import type { SyncPolicy } from "../../src/journal/sync_policy.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const faults = FaultInjector.install();
afterEach(() => faults.clear());
afterAll(() => faults.uninstall());

const item = (id: number) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: bytes(`${id}:`.padEnd(100, ".")) });
const queued = (id: number) => ({ item: item(id), open: false });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const ALWAYS: SyncPolicy = { kind: "always" };

/** The ids a start on `dir` replays queue q to, in order. */
function replayIds(dir: string): number[] {
  return faults.withoutFaults(() => {
    const { journal, items } = openQueueJournal(dir, "q");
    journal.close();
    return items.map((i) => Number(text(i.data).split(":")[0]));
  });
}

/** A journal of q holding items `ids` on disk, in segments of 2 KiB. */
function journalOf(dir: string, ids: readonly number[], policy: SyncPolicy = { kind: "never" }): Journal {
  const { journal } = openQueueJournal(dir, "q", { segmentSize: 2048, policy });
  for (const id of ids) {
    journal.appendAdd(item(id));
    flushJournals();
  }
  return journal;
}

/** Starts a rebuild over turns of `entries`; resolves with how it ended. */
function rebuildInTurns(journal: Journal, ids: readonly number[]): Promise<RebuildEnd> {
  const { promise, resolve } = Promise.withResolvers<RebuildEnd>();
  journal.rebuildInTurns(ids.map(queued), resolve);
  return promise;
}

/** Appends ADDs of `ids` (sets while the rebuild runs) and asks for them to be written; their commits. */
function setDuring(journal: Journal, ids: readonly number[]): Commit[] {
  const commits = ids.map((id) => journal.appendAdd(item(id)));
  flushJournals();
  return commits;
}

/** Copies of `dir` before every change to it and every fsync off the event loop, and when each fsync returns, while `change` runs; and one at the end. */
async function copiesAround(dir: string, change: () => Promise<void>): Promise<string[]> {
  const copies: string[] = [];
  const copy = () => void copies.push(copyDataDir(dir));
  const real = { rename: fileSystem.rename, remove: fileSystem.remove, open: fileSystem.open, fsyncAsync: fileSystem.fsyncAsync };
  fileSystem.rename = (from, to) => (copy(), real.rename(from, to));
  fileSystem.remove = (path) => (copy(), real.remove(path));
  fileSystem.open = (path, flags, mode) => (flags === "r" ? undefined : copy(), real.open(path, flags, mode));
  fileSystem.fsyncAsync = (fd, done) => (copy(), real.fsyncAsync(fd, (error) => (copy(), done(error))));
  try {
    await change();
  } finally {
    Object.assign(fileSystem, real);
  }
  copy();
  return copies;
}

test("a crash at any step of a rebuild over turns replays to the old files or to the state it took and the sets after it, never a mix", async () => {
  const dir = tempDir();
  // The old files hold 0..19; the queue holds 0..39 (a journal lacking items: a fill that failed).
  const journal = journalOf(dir, range(0, 20));
  expect(readdirSync(dir).filter((name) => /^q\.\d+$/.test(name)).length).toBeGreaterThan(0);
  let heldUnwritten = false;
  let end: RebuildEnd | null = null;
  const copies = await copiesAround(dir, async () => {
    const ended = rebuildInTurns(journal, range(0, 40));
    const sizeBefore = journal.size;
    const commits = setDuring(journal, [100, 101, 102]);
    heldUnwritten = commits.every((commit) => commit.state === "pending") && readdirSync(dir).length > 0 && journal.size >= sizeBefore;
    end = await ended;
    await Promise.all(commits.map((commit) => new Promise<void>((resolve) => onceDurable(commit, resolve))));
    await backgroundRemovals();
  });
  expect(end).not.toBeNull();
  expect(end!).toEqual({ rebuilt: { disk: null, lost: 0 } });
  expect(heldUnwritten).toBe(true);
  const outcomes = copies.map(replayIds);
  const old = range(0, 20);
  const live = [...range(0, 40), 100, 101, 102];
  const firstNew = outcomes.findIndex((ids) => ids.join() !== old.join());
  expect(firstNew).toBeGreaterThan(0);
  for (const ids of outcomes.slice(firstNew)) expect(ids).toEqual(live.slice(0, ids.length));
  for (const ids of outcomes.slice(firstNew)) expect(ids.length).toBeGreaterThanOrEqual(40);
  expect(outcomes.at(-1)).toEqual(live);
  expect(readdirSync(dir).filter((name) => name.endsWith(".tmp") || name.endsWith(".pack"))).toEqual([]);
  journal.close();
  expect(replayIds(dir)).toEqual(live);
});

test("sets while a rebuild runs are written to no file until its new active file is in place; under sync_journal = always they are acknowledged after their fsync", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10), ALWAYS);
  await new Promise<void>((resolve) => onceDurable(journal.lastCommit, resolve));
  const fsyncs: string[] = [];
  const realFsyncAsync = fileSystem.fsyncAsync;
  fileSystem.fsyncAsync = (fd, done) => (fsyncs.push(`fd ${fd}`), realFsyncAsync(fd, done));
  try {
    const ended = rebuildInTurns(journal, range(0, 10));
    expect(journal.rebuilding).toBe(true);
    const [during] = setDuring(journal, [50]);
    let acknowledgedAt = -1;
    onceDurable(during!, () => (acknowledgedAt = fsyncs.length));
    // Written to no file yet: a copy now replays to the old journal alone.
    expect(replayIds(copyDataDir(dir))).toEqual(range(0, 10));
    expect(await ended).toEqual({ rebuilt: { disk: null, lost: 0 } });
    expect(journal.rebuilding).toBe(false);
    await new Promise<void>((resolve) => onceDurable(during!, resolve));
    // The pack, the fresh file and the directory (the renames), then the set's own fsync (of the new active file).
    expect(acknowledgedAt).toBeGreaterThanOrEqual(4);
    expect(replayIds(copyDataDir(dir))).toEqual([...range(0, 10), 50]);
  } finally {
    fileSystem.fsyncAsync = realFsyncAsync;
  }
  journal.close();
});

for (const [step, path] of [
  ["syncing the pack", "\\.pack\\.\\d+\\.\\d+\\.tmp$"],
  ["syncing the fresh active file", "/\\.q\\.\\d+\\.\\d+\\.tmp$"],
] as const) {
  test(`an fsync failing off the event loop (${step}): nothing renamed, temp files gone, the writer fails and what waited goes to the next rebuild`, async () => {
    const dir = tempDir();
    const journal = journalOf(dir, range(0, 10));
    faults.set([{ op: "fsyncAsync", code: "EIO", path, times: 1 }]);
    const ended = rebuildInTurns(journal, range(0, 10));
    const [during] = setDuring(journal, [50]);
    const end = await ended;
    expect(typeof end === "object" && "failed" in end ? end.failed : "").toContain("EIO");
    expect(journal.rebuilding).toBe(false);
    expect(journal.failure).not.toBeNull();
    expect(during!.state).toBe("failed");
    expect(during!.retry).not.toBeNull();
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp") || name.endsWith(".pack"))).toEqual([]);
    expect(replayIds(copyDataDir(dir))).toEqual(range(0, 10));
    // The next upkeep rebuilds again, from the queue as it is then (the set included): the set is acknowledged.
    expect(await rebuildInTurns(journal, [...range(0, 10), 50])).toEqual({ rebuilt: { disk: null, lost: 0 } });
    expect(journal.failure).toBeNull();
    await new Promise<void>((resolve) => onceDurable(during!.retry!, resolve));
    expect(during!.retry!.state).toBe("durable");
    journal.close();
    expect(replayIds(dir)).toEqual([...range(0, 10), 50]);
  });
}

test("the directory fsync after the renames failing off the event loop: committed, the writer fails until a retry fsyncs the directory, then writes what waited", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10));
  faults.set([{ op: "fsyncAsync", code: "EIO", path: "/kestrel-unit-[^/]+$", times: 1 }]);
  const ended = rebuildInTurns(journal, range(0, 12));
  const [during] = setDuring(journal, [50]);
  expect(await ended).toEqual({ rebuilt: { disk: null, lost: 0 } });
  expect(journal.failure).toContain("EIO");
  expect(during!.state).toBe("failed");
  journal.retry(); // the upkeep's retry: the directory fsync, then the set's record
  expect(journal.failure).toBeNull();
  expect(during!.retry!.state).toBe("durable");
  journal.close();
  expect(replayIds(dir)).toEqual([...range(0, 12), 50]);
});

test("a clean stop while a rebuild runs puts its journal in place at once; a journal erased meanwhile gives it up and leaves no file", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10));
  let end: RebuildEnd | null = null;
  journal.rebuildInTurns(range(0, 15).map(queued), (e) => (end = e));
  setDuring(journal, [50]);
  journal.close();
  expect(end!).toEqual({ rebuilt: { disk: null, lost: 0 } });
  expect(replayIds(dir)).toEqual([...range(0, 15), 50]);

  const gone = tempDir();
  const erased = journalOf(gone, range(0, 10));
  let ended: RebuildEnd | null = null;
  erased.rebuildInTurns(range(0, 15).map(queued), (e) => (ended = e));
  erased.erase();
  await backgroundRemovals();
  expect(ended!).toBe("cancelled");
  expect(readdirSync(gone).filter((name) => name.startsWith("q") || name.startsWith(".q"))).toEqual([]);
});

test("a confirm recorded while a rebuild runs on a journal that had failed (its file deleted) is acknowledged only once its REMOVE is on disk (sync_journal = always)", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10), ALWAYS);
  await new Promise<void>((resolve) => onceDurable(journal.lastCommit, resolve));
  // The active file deleted under the writer: its next write notices, and the journal fails.
  rmSync(join(dir, "q"));
  journal.appendOpen(0);
  flushJournals();
  expect(journal.failure).not.toBeNull();
  const { promise: ended, resolve } = Promise.withResolvers<RebuildEnd>();
  journal.rebuildInTurns([{ item: item(0), open: true }, ...range(1, 10).map(queued)], resolve);
  // The rebuild took item 0 open; a client confirms it meanwhile (the queue records confirms while failing).
  const confirm = journal.appendRemove(0);
  let replayedAtReply: number[] | null = null;
  onceDurable(confirm, () => (replayedAtReply = replayIds(copyDataDir(dir))));
  expect(await ended).toEqual({ rebuilt: { disk: null, lost: 0 } });
  await new Promise<void>((done) => onceDurable(confirm, done));
  expect(journal.failure).toBeNull();
  // Confirmed: item 0 never comes back after the reply.
  expect(replayedAtReply!).toEqual(range(1, 10));
  journal.close();
  expect(replayIds(dir)).toEqual(range(1, 10));
});

test("an item set while a rebuild runs stays in the journal once the items before it are consumed and its segment is sealed and released", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10));
  const ended = rebuildInTurns(journal, range(0, 10));
  const [during] = setDuring(journal, [10]);
  expect(await ended).toEqual({ rebuilt: { disk: null, lost: 0 } });
  await new Promise<void>((resolve) => onceDurable(during!, resolve));
  // 0..9 consumed; 10 is the only live item: the segment its ADD went to is not dead.
  for (const id of range(0, 10)) journal.appendRemove(id);
  flushJournals();
  journal.rotate();
  journal.releaseDead(10, null);
  await backgroundRemovals();
  journal.close();
  expect(replayIds(dir)).toEqual([10]);
});

test("a flush's reset taken over by a rebuild over turns settles when the journal is erased meanwhile (its reply does not wait for good)", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10));
  const reset = journal.reset([]);
  let end: RebuildEnd | null = null;
  expect(journal.rebuildInTurns([], (e) => (end = e))).toBe(true);
  journal.erase();
  await backgroundRemovals();
  expect(end!).toBe("cancelled");
  expect(reset.state).toBe("durable");
});

test("a clean stop after one of a rebuild's fsyncs failed off the event loop (the other not back yet) commits nothing: an fsync after a failed one may say nothing of the pages lost", async () => {
  const dir = tempDir();
  const journal = journalOf(dir, range(0, 10));
  faults.set([{ op: "fsyncAsync", code: "EIO", path: "\\.pack\\.\\d+\\.\\d+\\.tmp$", times: 1 }]);
  const withFaults = fileSystem.fsyncAsync;
  let packBack = false;
  let freshBack: (() => void) | null = null;
  // The pack's fsync fails; the fresh file's comes back only after the clean stop.
  fileSystem.fsyncAsync = (fd, done) => {
    const fresh = /\/\.q\.\d+\.\d+\.tmp$/.test(readlinkSync(`/proc/self/fd/${fd}`));
    withFaults(fd, (error) => (fresh ? (freshBack = () => done(error)) : ((packBack = true), done(error))));
  };
  let end: RebuildEnd | null = null;
  try {
    journal.rebuildInTurns(range(0, 15).map(queued), (e) => (end = e));
    while (!packBack || freshBack === null) await new Promise((resolve) => setImmediate(resolve));
    expect(end).toBeNull();
    journal.close();
    (freshBack as () => void)();
  } finally {
    fileSystem.fsyncAsync = withFaults;
  }
  expect(end!).toEqual({ failed: expect.stringContaining("EIO") });
  expect(replayIds(dir)).toEqual(range(0, 10));
  expect(readdirSync(dir).filter((name) => name.endsWith(".tmp") || name.endsWith(".pack"))).toEqual([]);
});

/** A journal of q holding items 0..count-1 of 4,000 bytes in segments of 256 KiB; returns it and where item `diskFrom`'s ADD is. */
function bigJournalOf(dir: string, count: number, diskFrom: number): { journal: Journal; start: Position } {
  const { journal } = openQueueJournal(dir, "q", { segmentSize: 256 * 1024 });
  let start: Position | null = null;
  for (const id of range(0, count)) {
    if (id === diskFrom) start = journal.nextPosition();
    journal.appendAdd({ ...item(id), data: bytes(`${id}:`.padEnd(4000, ".")) });
    flushJournals();
  }
  return { journal, start: start! };
}

test("a rebuild copying items waiting on disk, a slice per turn: a crash at any step (each slice copied included) replays to the old files or to the state it took and what came after, never a mix; the items on disk are read from their new place", async () => {
  const dir = tempDir();
  // 0..9 in memory, 10..599 (2.3 MiB) waiting on disk; 0, 1 and 2 are taken while the copy runs.
  const { journal, start } = bigJournalOf(dir, 600, 10);
  const disk: DiskRegion = { start, count: 590, bytes: 590 * 4000, minId: 10 };
  const midCopy: string[] = [];
  let end: RebuildEnd | null = null;
  let heldUnwritten = false;
  const copies = await copiesAround(dir, async () => {
    const through = fileSystem.writev;
    // A copy of the directory before each write to the pack: a crash in the middle of the copy.
    fileSystem.writev = (fd, chunks) => {
      if (/\.pack\.\d+\.\d+\.tmp$/.test(readlinkSync(`/proc/self/fd/${fd}`))) midCopy.push(copyDataDir(dir));
      return through(fd, chunks);
    };
    try {
      const { promise: ended, resolve } = Promise.withResolvers<RebuildEnd>();
      journal.rebuildInTurns(range(0, 10).map(queued), resolve, disk);
      const removes = [0, 1, 2].map((id) => journal.appendRemove(id));
      flushJournals();
      heldUnwritten = removes.every((commit) => commit.state === "pending");
      end = await ended;
      await Promise.all(removes.map((commit) => new Promise<void>((resolve) => onceDurable(commit, resolve))));
      await backgroundRemovals();
    } finally {
      fileSystem.writev = through;
    }
  });
  expect(heldUnwritten).toBe(true);
  // The head and entries in one write, then the items on disk a slice a turn: each replays to the old files.
  expect(midCopy.length).toBeGreaterThanOrEqual(4);
  expect(midCopy.map(replayIds).map((ids) => ids.join())).toEqual(midCopy.map(() => range(0, 600).join()));
  const rebuilt = (end as { rebuilt: Rebuilt } | null)?.rebuilt;
  expect(rebuilt?.lost).toBe(0);
  expect(rebuilt?.disk?.count).toBe(590);
  const outcomes = copies.map(replayIds);
  const all = range(0, 600);
  const taken = range(3, 600);
  for (const ids of outcomes) expect([all.join(), taken.join()]).toContain(ids.join());
  // Until the commit, the old files (the removes wait, written to no file); after it, the pack, then the removes.
  const firstTaken = outcomes.findIndex((ids) => ids.join() === taken.join());
  expect(firstTaken).toBeGreaterThan(0);
  for (const ids of outcomes.slice(firstTaken)) expect(ids).toEqual(taken);
  expect(readdirSync(dir).filter((name) => name.endsWith(".tmp") || name.endsWith(".pack"))).toEqual([]);
  // The items on disk are read back from where the rebuild put them.
  const { items } = journal.readItems(rebuilt!.disk!.start, 590, Infinity);
  expect(items.map((i) => Number(text(i.data).split(":")[0]))).toEqual(range(10, 600));
  journal.close();
  expect(replayIds(dir)).toEqual(taken);
});

test("a write of the pack failing in the middle of the copy of the items on disk: nothing renamed, the temp file gone, the writer fails; the next rebuild puts every item in place", async () => {
  const dir = tempDir();
  const { journal, start } = bigJournalOf(dir, 600, 10);
  const disk: DiskRegion = { start, count: 590, bytes: 590 * 4000, minId: 10 };
  faults.set([{ op: "writev", code: "EIO", path: "\\.pack\\.\\d+\\.\\d+\\.tmp$", after: 2, times: 1 }]);
  const { promise: ended, resolve } = Promise.withResolvers<RebuildEnd>();
  journal.rebuildInTurns(range(0, 10).map(queued), resolve, disk);
  const [remove] = [journal.appendRemove(0)];
  flushJournals();
  const end = await ended;
  expect(faults.hits).toBe(1);
  expect(typeof end === "object" && "failed" in end ? end.failed : "").toContain("EIO");
  expect(journal.rebuilding).toBe(false);
  expect(journal.failure).toContain("EIO");
  expect(remove!.state).toBe("failed");
  expect(readdirSync(dir).filter((name) => name.endsWith(".tmp") || name.endsWith(".pack"))).toEqual([]);
  expect(replayIds(copyDataDir(dir))).toEqual(range(0, 600));
  // The next upkeep rebuilds from the queue as it is then (0 taken), the region where it was.
  const { promise: again, resolve: resolveAgain } = Promise.withResolvers<RebuildEnd>();
  journal.rebuildInTurns(range(1, 10).map(queued), resolveAgain, disk);
  expect(await again).toMatchObject({ rebuilt: { lost: 0, disk: { count: 590 } } });
  await new Promise<void>((done) => onceDurable(remove!.retry!, done));
  expect(remove!.retry!.state).toBe("durable");
  journal.close();
  expect(replayIds(dir)).toEqual(range(1, 600));
});

test("a clean stop in the middle of the copy of the items on disk copies the rest and puts the journal in place at once; a journal erased then gives the rebuild up and leaves no file", async () => {
  const dir = tempDir();
  const { journal, start } = bigJournalOf(dir, 600, 10);
  const disk: DiskRegion = { start, count: 590, bytes: 590 * 4000, minId: 10 };
  let end: RebuildEnd | null = null;
  journal.rebuildInTurns(range(0, 10).map(queued), (e) => (end = e), disk);
  await new Promise((resolve) => setImmediate(resolve)); // one slice copied
  journal.appendRemove(0);
  journal.close();
  expect(end!).toMatchObject({ rebuilt: { lost: 0, disk: { count: 590 } } });
  expect(replayIds(dir)).toEqual(range(1, 600));

  const gone = tempDir();
  const erased = bigJournalOf(gone, 600, 10);
  let ended: RebuildEnd | null = null;
  erased.journal.rebuildInTurns(range(0, 10).map(queued), (e) => (ended = e), { ...disk, start: erased.start });
  await new Promise((resolve) => setImmediate(resolve));
  erased.journal.erase();
  await backgroundRemovals();
  expect(ended!).toBe("cancelled");
  expect(readdirSync(gone).filter((name) => name.startsWith("q") || name.startsWith(".q"))).toEqual([]);
});

for (const writerHoldsIt of [true, false]) {
  test(`a rebuild whose active file was replaced under the server${writerHoldsIt ? "" : " while the writer's descriptor was closed (idle)"} reads none of the file now at the active name: the items waiting on disk come from the sealed segments${writerHoldsIt ? " and the replaced file, through the writer's descriptor" : " only (those in the replaced file are lost, and counted)"}`, async () => {
    const dir = tempDir();
    const { journal, start } = bigJournalOf(dir, 600, 10);
    if (!writerHoldsIt) {
      closeIdleFiles(); // a round: the files were used in it
      closeIdleFiles(); // the next: not used since, closed
    }
    // Another journal's file, valid records of items 10000.., takes the active name.
    const other = tempDir();
    const { journal: foreign } = openQueueJournal(other, "q");
    for (const id of range(10_000, 10_100)) foreign.appendAdd({ ...item(id), data: bytes(`${id}:`.padEnd(4000, ".")) });
    flushJournals();
    foreign.close();
    copyFileSync(join(other, "q"), join(dir, "q.other"));
    renameSync(join(dir, "q.other"), join(dir, "q"));
    const disk: DiskRegion = { start, count: 590, bytes: 590 * 4000, minId: 10 };
    const { promise: ended, resolve } = Promise.withResolvers<RebuildEnd>();
    journal.rebuildInTurns(range(0, 10).map(queued), resolve, disk);
    const end = await ended;
    const rebuilt = (end as { rebuilt: Rebuilt }).rebuilt;
    const { items } = journal.readItems(rebuilt.disk!.start, rebuilt.disk!.count, Infinity);
    const ids = items.map((i) => Number(text(i.data).split(":")[0]));
    expect(ids.filter((id) => id >= 10_000)).toEqual([]);
    expect(ids).toEqual(range(10, 10 + ids.length));
    expect(rebuilt.lost).toBe(590 - ids.length);
    if (writerHoldsIt) expect(rebuilt.lost).toBe(0);
    // The items whose ADDs were only in the replaced file are lost, and counted so.
    else expect(rebuilt.lost).toBeGreaterThan(0);
    journal.close();
  });
}
