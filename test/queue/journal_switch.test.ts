/**
 * A reload turning a queue's journal off or on, over turns (src/queue/journal_switch.ts,
 * journal_fill.ts): a turn does at most its budget's worth (the switch's clock stepped, the fill's
 * bytes counted), sets and takes meanwhile keep FIFO order and their durability, and a crash at
 * any turn (the data directory copied then, and loaded as the next start would) loses no
 * acknowledged item and invents none.
 */
import { describe, expect, spyOn, test } from "bun:test";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { turnClock } from "../../src/clock.ts";
import type { Commit } from "../../src/journal/commit.ts";
import { backgroundRemovals } from "../../src/journal/deferred_removal.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import type { Item } from "../../src/journal/item.ts";
import { log } from "../../src/log.ts";
import type { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { FILL_SLICE_BYTES, PART_BYTES, SLICE_MS, TurningOff, type ReadIn } from "../../src/queue/journal_switch.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { settled } from "../helpers/journal.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";
import { nextTurn, steppedTurnClock } from "../helpers/turn_clock.ts";

const ITEM_BYTES = 2048;
const CONFIG = `max_memory_size = "64KiB"\nmax_journal_size = "1MiB"\nmax_open_transactions = 100\n`;
const ON = CONFIG;
const OFF = `${CONFIG}journal = false\n`;
const payload = (i: number) => `${i}:`.padEnd(ITEM_BYTES, "x");
const numberOf = (item: Item) => Number(text(item.data).split(":")[0]);

// Every look at the turns' clock moves it 1 ms on: a slice reads SLICE_MS parts whatever the machine.
steppedTurnClock(1);

function fill(queues: QueueCollection, from: number, to: number): void {
  for (let i = from; i < to; i++) expect(typeof queues.add("q", bytes(payload(i)), 0, Date.now())).not.toBe("string");
}

function drain(queue: PersistentQueue): number[] {
  const out: number[] = [];
  for (let item = queue.remove(Date.now()); item !== undefined; item = queue.remove(Date.now())) out.push(numberOf(item));
  return out;
}

/** What a start from a copy of `dir` taken now would serve (with `config`'s journal setting), in order. */
function replayCopy(dir: string, config: string): number[] {
  flushJournals();
  const copy = tempDir();
  copyDataDir(dir, copy);
  const queues = QueueCollection.load(configFor(copy, config));
  const out = drain(queues.getOrCreate("q"));
  queues.close();
  return out;
}

/** Bytes of the pack being written in `dir` (its temp file; 0 before and after). */
function packBytes(dir: string): number {
  return readdirSync(dir)
    .filter((name) => /^\.q\.\d+\.pack\..*\.tmp$/.test(name))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A queue for a switch off alone: `parts` parts wait on disk, and reading the `bugAt`th throws (a bug). */
class PartsOnDisk implements ReadIn {
  readonly name = "q";
  readonly isDeleted = false;
  readonly readFailure: string | null = null;
  readonly journalFailure: string | null = null;
  readonly journalRebuilding = false;
  /** Parts read so far (the one that threw too). */
  read = 0;
  dropped = false;

  constructor(
    private readonly parts: number,
    private readonly bugAt: number,
  ) {}

  readInPart(): boolean {
    if (++this.read === this.bugAt) throw new Error("a bug reading in");
    return this.read < this.parts;
  }

  dropJournal(): void {
    this.dropped = true;
  }
}

describe("turning the journal off", () => {
  test("reads the items on disk in a slice per turn, SLICE_MS parts at most; sets and takes meanwhile keep FIFO order and the journal; then the files go", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, ON));
    fill(queues, 0, 3000);
    const queue = queues.get("q")!;
    const onDisk = () => queue.stats().bytes - queue.stats().memBytes;
    expect(onDisk()).toBeGreaterThan(20 * PART_BYTES);
    const done = queues.prepareReconfigure(configFor(dir, OFF))();
    expect([done.state, queue.hasJournal, queue.journalWanted]).toEqual(["pending", true, false]);
    const model = range(0, 3000);
    let next = 3000;
    const perTurn: number[] = [];
    let crashChecks = 0;
    for (let turns = 0; done.state === "pending"; turns++) {
      expect(turns).toBeLessThan(1000);
      // A set goes behind the items on disk (written to the journal); a take gets the head.
      fill(queues, next, next + 1);
      model.push(next++);
      expect(numberOf(queue.remove(Date.now())!)).toBe(model.shift()!);
      if (turns % 4 === 1) {
        // A crash now: the journal has every item not taken, nothing else.
        expect(replayCopy(dir, OFF)).toEqual(model);
        crashChecks++;
      }
      const before = onDisk();
      await nextTurn();
      perTurn.push(before - onDisk());
    }
    expect(crashChecks).toBeGreaterThan(1);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(SLICE_MS * (PART_BYTES + ITEM_BYTES));
    expect(done.state).toBe("durable");
    expect([queue.hasJournal, queue.stats().memItems, queue.stats().items]).toEqual([false, model.length, model.length]);
    // The old files go over the next turns (the empty pack's fsyncs off the event loop, retire_task.ts).
    await backgroundRemovals();
    expect(readdirSync(dir).filter((name) => name === "q" || name.startsWith("q."))).toEqual([]);
    expect(drain(queue)).toEqual(model);
    queues.close();
  });

  test("items on disk whose records the failing journal still holds: the switch waits for the retry instead of reading again every turn, and the reply says so at once", async () => {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      const queues = QueueCollection.load(configFor(dir, ON));
      fill(queues, 0, 100);
      flushJournals();
      faults.set([{ op: "writev", code: "ENOSPC", path: "/q$" }]);
      const queue = queues.get("q")!;
      queue.add(bytes(payload(100)), 0, Date.now());
      flushJournals();
      expect(queue.journalFailure).not.toBeNull();
      const done = queues.prepareReconfigure(configFor(dir, OFF))();
      let looks = 0;
      const stepped = turnClock.now;
      turnClock.now = () => (looks++, stepped());
      for (let i = 0; i < 20; i++) await nextTurn();
      const stuckAt = looks;
      for (let i = 0; i < 20; i++) await nextTurn();
      expect(looks).toBe(stuckAt);
      expect(done.state).toBe("failed");
      expect(done.error).toMatch(/^queue 'q': reading its items into memory is held up \(.*ENOSPC.*\); it keeps its journal/);
      faults.clear();
      queues.maintainJournals();
      for (let i = 0; queue.hasJournal && i < 1000; i++) await nextTurn();
      expect(queue.hasJournal).toBe(false);
      expect(drain(queue)).toEqual(range(0, 101));
      queues.close();
    } finally {
      faults.uninstall();
    }
  });

  test("while the queue's journal is rebuilt over turns (nothing is read back then), the switch looks once a turn instead of reading in vain for its whole slice; it goes on once the rebuild is in place", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, ON));
    fill(queues, 0, 3000);
    flushJournals();
    const queue = queues.get("q")!;
    // The active file goes under the server: the upkeep rebuilds the journal over turns, copying the items on disk.
    rmSync(join(dir, "q"));
    queue.maintainJournal(false);
    expect(queue.journalRebuilding).toBe(true);
    const done = queues.prepareReconfigure(configFor(dir, OFF))();
    let parts = 0;
    const readInPart = queue.readInPart.bind(queue);
    queue.readInPart = (maxBytes) => (parts++, readInPart(maxBytes));
    const perTurn: number[] = [];
    // Its fsyncs return off the event loop: real time, not a count of turns, bounds the wait.
    const deadline = performance.now() + 10_000;
    while (queue.journalRebuilding) {
      expect(performance.now()).toBeLessThan(deadline);
      parts = 0;
      await nextTurn();
      if (queue.journalRebuilding) perTurn.push(parts);
    }
    expect(perTurn.length).toBeGreaterThan(1);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(1);
    while (done.state === "pending") {
      expect(performance.now()).toBeLessThan(deadline);
      await nextTurn();
    }
    expect([done.state, queue.hasJournal]).toEqual(["durable", false]);
    expect(queue.stats().memItems).toBe(queue.stats().items);
    queues.close();
  });

  test("a slice that throws (a bug) is logged once and pauses the switch, the reply saying so; the next try goes on to the end", async () => {
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      // Ten parts on disk; the fifth read, in a later turn than the first, throws.
      const queue = new PartsOnDisk(10, 5);
      const switching = new TurningOff(queue);
      switching.start();
      expect(queue.read).toBeLessThan(5);
      await new Promise<void>((resolve) => switching.done.onSettled(resolve));
      expect(switching.done.state).toBe("failed");
      expect(switching.done.error).toBe("queue 'q': reading its items into memory is held up (internal error: a bug reading in); it keeps its journal, with every item, and tries again each second");
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error turning the journal of queue 'q' off: a bug reading in"]);
      for (let i = 0; i < 3; i++) await nextTurn();
      expect([queue.read, queue.dropped]).toEqual([5, false]); // paused: no slice until the upkeep's retry
      switching.resume();
      for (let i = 0; !queue.dropped && i < 100; i++) await nextTurn();
      expect([queue.read, queue.dropped]).toEqual([10, true]);
    } finally {
      logged.mockRestore();
    }
  });

  test("a queue with nothing on disk drops its journal before the reload returns", () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, ON));
    fill(queues, 0, 3);
    const done = queues.prepareReconfigure(configFor(dir, OFF))();
    expect([done.state, queues.get("q")!.hasJournal]).toEqual(["durable", false]);
    queues.close();
  });
});

describe("turning the journal on", () => {
  test("writes the items at most FILL_SLICE_BYTES a turn; sets are journaled at once, items opened before the fill reached them are covered; a crash before the end replays only what came after the switch, after it everything", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, OFF));
    fill(queues, 0, 2000);
    const queue = queues.get("q")!;
    const done = queues.prepareReconfigure(configFor(dir, ON))();
    expect([done.state, queue.hasJournal]).toEqual(["pending", true]);
    const model = range(0, 2000);
    // Before the fill writes anything, 100 items are opened (covered): the even ones confirmed,
    // the odd ones given back (the last first, so they are at the head in order).
    const opened = Array.from({ length: 100 }, () => queue.open(Date.now())!);
    for (const item of opened.filter((item) => numberOf(item) % 2 === 0)) queue.confirm(item);
    for (const item of opened.filter((item) => numberOf(item) % 2 === 1).reverse()) queue.abort(item, Date.now());
    model.splice(0, 100, ...range(0, 100).filter((i) => i % 2 === 1));
    const setSince: number[] = [];
    let next = 2000;
    const perTurn: number[] = [];
    let committed = false;
    for (let turns = 0; done.state === "pending"; turns++) {
      expect(turns).toBeLessThan(1000);
      fill(queues, next, next + 1);
      model.push(next);
      setSince.push(next++);
      // Items are opened from the head, ahead of the fill: one confirmed, one given back.
      const confirmed = queue.open(Date.now())!;
      const aborted = queue.open(Date.now())!;
      expect([numberOf(confirmed), numberOf(aborted)]).toEqual(model.slice(0, 2));
      queue.confirm(confirmed);
      queue.abort(aborted, Date.now());
      model.shift();
      if (turns % 3 === 1) {
        // A crash before the pack is committed: the items set since the switch began, nothing else; once
        // it is (its install may still be under way, its directory fsyncs off the event loop), everything.
        const replayed = replayCopy(dir, ON);
        if (!committed) expect([setSince.filter((i) => model.includes(i)), model]).toContainEqual(replayed);
        committed ||= replayed.length === model.length;
        if (committed) expect(replayed).toEqual(model);
      }
      const before = packBytes(dir);
      await nextTurn();
      perTurn.push(packBytes(dir) - before);
    }
    expect(done.state).toBe("durable");
    // A slice's records, plus the item it ends in and the two items covered that turn.
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(FILL_SLICE_BYTES + 3 * (ITEM_BYTES + 64));
    expect(Math.max(...perTurn)).toBeGreaterThan(FILL_SLICE_BYTES / 2);
    expect(perTurn.length).toBeGreaterThan((2000 * ITEM_BYTES) / FILL_SLICE_BYTES / 2);
    expect(replayCopy(dir, ON)).toEqual(model);
    // And open items come back at the head.
    const open = queue.open(Date.now())!;
    expect(replayCopy(dir, ON)).toEqual(model);
    queue.abort(open, Date.now());
    expect(drain(queue)).toEqual(model);
    queues.close();
  });

  test("an item taken before the fill reached it, its REMOVE not written (the journal failing): the pack is not committed before that record is on disk", async () => {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      const queues = QueueCollection.load(configFor(dir, OFF));
      fill(queues, 0, 200);
      const queue = queues.get("q")!;
      const done = queues.prepareReconfigure(configFor(dir, ON))();
      // A get takes the head before the fill writes anything; its REMOVE can't be written, so its
      // reply waits (for the retry) and a crash now must bring the item back.
      faults.set([{ op: "writev", code: "ENOSPC", path: "/q$" }]);
      const taken = queue.remove(Date.now())!;
      expect(numberOf(taken)).toBe(0);
      flushJournals();
      expect(queue.journalFailure).not.toBeNull();
      await settled(done);
      // Not committed: a crash replays what came after the switch (nothing), not the pack without item 0.
      expect([done.state, replayCopy(dir, ON)]).toEqual(["failed", []]);
      expect(done.error).toMatch(/^queue 'q': writing its items to the journal it turned on failed \(.*ENOSPC/);
      faults.clear();
      queues.maintainJournals(); // the retry writes the REMOVE; the journal is rebuilt from the queue
      expect(replayCopy(dir, ON)).toEqual(range(1, 200));
      queues.close();
    } finally {
      faults.uninstall();
    }
  });

  test("a clean stop during the fill writes the rest first: nothing is lost", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, OFF));
    fill(queues, 0, 1000);
    const done = queues.prepareReconfigure(configFor(dir, ON))();
    await nextTurn();
    expect(done.state).toBe("pending");
    queues.close();
    expect(done.state).toBe("durable");
    const again = QueueCollection.load(configFor(dir, ON));
    expect(drain(again.getOrCreate("q"))).toEqual(range(0, 1000));
    again.close();
  });

  test("a fill that can't be written fails the switch; the next upkeep rebuilds the journal from the queue", async () => {
    const faults = FaultInjector.install();
    try {
      const dir = tempDir();
      const queues = QueueCollection.load(configFor(dir, OFF));
      fill(queues, 0, 200);
      faults.set([{ op: "open", code: "ENOSPC", path: "\\.pack\\..*\\.tmp$" }]);
      const done: Commit = queues.prepareReconfigure(configFor(dir, ON))();
      fill(queues, 200, 210);
      await settled(done);
      expect(done.state).toBe("failed");
      expect(done.error).toMatch(/^queue 'q': writing its items to the journal it turned on failed \(.*ENOSPC/);
      faults.clear();
      expect(replayCopy(dir, ON)).toEqual(range(200, 210));
      queues.maintainJournals();
      expect(replayCopy(dir, ON)).toEqual(range(0, 210));
      queues.close();
    } finally {
      faults.uninstall();
    }
  });
});

describe("a switch given up by the next reload", () => {
  test("on, then off before the fill is through (and back on): every item stays, in order", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, OFF));
    fill(queues, 0, 1000);
    const on = queues.prepareReconfigure(configFor(dir, ON))();
    await nextTurn();
    fill(queues, 1000, 1100); // journaled, and on disk past the budget
    const off = queues.prepareReconfigure(configFor(dir, OFF))();
    expect(on.state).toBe("durable");
    await settled(off);
    const queue = queues.get("q")!;
    expect(queue.hasJournal).toBe(false);
    await settled(queues.prepareReconfigure(configFor(dir, ON))());
    expect(replayCopy(dir, ON)).toEqual(range(0, 1100));
    expect(drain(queue)).toEqual(range(0, 1100));
    queues.close();
  });

  test("on, then off, then on again before the off is through: the reply says the journal lacks the items the fill had not written, and the next upkeep rebuilds it", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, OFF));
    fill(queues, 0, 1000);
    const queue = queues.get("q")!;
    queues.prepareReconfigure(configFor(dir, ON))();
    await nextTurn();
    fill(queues, 1000, 1100); // journaled, and on disk past the budget
    const off = queues.prepareReconfigure(configFor(dir, OFF))();
    expect([off.state, queue.journalGap()]).toEqual(["pending", null]);
    const on = queues.prepareReconfigure(configFor(dir, ON))();
    expect([off.state, on.state, queue.hasJournal, queue.journalWanted]).toEqual(["durable", "failed", true, true]);
    expect(on.error).toMatch(/^queue 'q': writing its items to the journal it turned on was given up/);
    queues.maintainJournals();
    expect(queue.journalGap()).toBeNull();
    expect(replayCopy(dir, ON)).toEqual(range(0, 1100));
    expect(drain(queue)).toEqual(range(0, 1100));
    queues.close();
  });

  test("off, then on before every item is read in: the queue keeps its journal, whole", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, ON));
    fill(queues, 0, 3000);
    const queue = queues.get("q")!;
    const off = queues.prepareReconfigure(configFor(dir, OFF))();
    await nextTurn();
    expect(off.state).toBe("pending");
    const on = queues.prepareReconfigure(configFor(dir, ON))();
    expect([on.state, off.state, queue.hasJournal, queue.journalWanted]).toEqual(["durable", "durable", true, true]);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(queue.hasJournal).toBe(true);
    expect(replayCopy(dir, ON)).toEqual(range(0, 3000));
    expect(drain(queue)).toEqual(range(0, 3000));
    queues.close();
  });
});

describe("a fill cut short by the queue", () => {
  test("a flush completes it: the new journal holds the live state, the open items", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, OFF));
    fill(queues, 0, 1000);
    const queue = queues.get("q")!;
    const done = queues.prepareReconfigure(configFor(dir, ON))();
    await nextTurn();
    const open = queue.open(Date.now())!;
    expect(done.state).toBe("pending");
    const flushed = queue.flush();
    // Its new journal is written off the event loop; the switch is through once it is committed.
    expect([flushed.state, done.state]).toEqual(["pending", "pending"]);
    await settled(flushed);
    expect([flushed.state, done.state]).toEqual(["durable", "durable"]);
    fill(queues, 2000, 2003);
    expect(replayCopy(dir, ON)).toEqual([numberOf(open), 2000, 2001, 2002]);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(queue.journalGap()).toBeNull();
    queues.close();
  });

  test("a delete gives it up, and its files go", async () => {
    const dir = tempDir();
    const queues = QueueCollection.load(configFor(dir, OFF));
    fill(queues, 0, 1000);
    const done = queues.prepareReconfigure(configFor(dir, ON))();
    await nextTurn();
    expect(done.state).toBe("pending");
    queues.delete("q");
    expect(done.state).toBe("durable");
    await backgroundRemovals();
    expect(readdirSync(dir).filter((name) => name.includes("q"))).toEqual([]);
    queues.close();
  });
});

describe("a journal turned off, still being retired (Journal.retire: the empty pack's fsyncs off the event loop)", () => {
  const SMALL = `max_memory_size = "8MiB"\nmax_journal_size = "16KiB"\n`;
  const real = { ...fileSystem };

  /** A queue of 60 items in many segments, its journal turned off, the retire's fsyncs held (a slow disk): returns them and how to let them go. */
  async function droppedWithSlowDisk(dir: string): Promise<{ queues: QueueCollection; queue: PersistentQueue; release: () => void }> {
    const queues = QueueCollection.load(configFor(dir, SMALL));
    for (let i = 0; i < 60; i++) {
      queues.add("q", bytes(payload(i)), 0, Date.now());
      if (i % 5 === 4) flushJournals();
    }
    flushJournals();
    expect(readdirSync(dir).filter((name) => /^q\.\d+$/.test(name)).length).toBeGreaterThan(3);
    const waiting: Array<() => void> = [];
    fileSystem.fsyncAsync = (fd, done) => void waiting.push(() => real.fsyncAsync(fd, done));
    const done = queues.prepareReconfigure(configFor(dir, `${SMALL}journal = false\n`))();
    await settled(done);
    const queue = queues.get("q")!;
    expect([done.state, queue.hasJournal, waiting.length]).toEqual(["durable", false, 1]);
    const release = (): void => {
      fileSystem.fsyncAsync = real.fsyncAsync;
      for (const run of waiting.splice(0)) run();
    };
    return { queues, queue, release };
  }

  /** What a start after a power loss now serves: the empty pack's rename, not yet fsynced, may be missing. */
  function afterPowerLoss(dir: string): number[] {
    const copy = copyDataDir(dir);
    for (const name of readdirSync(copy)) if (/^q\.\d+\.pack$/.test(name)) rmSync(join(copy, name));
    return replayCopy(copy, `${SMALL}journal = false\n`);
  }

  test("a take, a flush and a delete are answered only once the old files can no longer come back: a power loss before would bring back what they took", async () => {
    for (const action of ["take", "flush", "delete"] as const) {
      const dir = tempDir();
      const { queues, queue, release } = await droppedWithSlowDisk(dir);
      try {
        let answer: Commit;
        if (action === "take") {
          expect(numberOf(queue.remove(Date.now())!)).toBe(0);
          answer = queue.commit;
        } else if (action === "flush") {
          answer = queue.flush();
        } else {
          answer = queues.delete("q");
        }
        // The old journal still replays whole after a power loss now: what the action took would come back.
        expect(afterPowerLoss(dir)).toEqual(range(0, 60));
        expect(`${action}: ${answer.state}`).toBe(`${action}: pending`);
        release();
        await settled(answer);
        expect(`${action}: ${answer.state}`).toBe(`${action}: durable`);
        expect(afterPowerLoss(dir)).toEqual([]);
      } finally {
        release();
        queues.close();
      }
    }
  });
});
