/**
 * Every journal file operation made to fail (ENOSPC, EMFILE, EACCES, EIO, a short write) at every
 * step of append, fsync, rotation, compaction, read-behind and upkeep, under a mixed load of sets,
 * takes and reliable reads on two queues with tiny segments and memory. After each:
 * - nothing acknowledged is lost and nothing consumed comes back, on the files as a crash would
 *   leave them while the fault lasts, after it clears, and after a clean close;
 * - while a queue's journal can't be written it refuses sets, takes and opens, and says so
 *   (`journalFailure`, what /health reports);
 * - once the fault clears, the queue's upkeep brings it back by itself;
 * - nothing throws out of the queue operations.
 *
 * A calibration run counts the calls a fault matches; the fault then starts at evenly spread
 * points of that count, so it lands on each step in turn (KESTREL_FAULT_POINTS, default 4).
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig, type KestrelConfig } from "../../src/config/load.ts";
import type { Commit } from "../../src/journal/commit.ts";
import type { Item } from "../../src/journal/item.ts";
import type { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, seededRandom, text } from "../helpers/bytes.ts";
import { FaultInjector, type Fault, type FaultCode, type FaultOp } from "../helpers/faulty_fs.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const POINTS = Number(process.env.KESTREL_FAULT_POINTS ?? 4);
const QUEUES = ["q", "r"];
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

const faults = FaultInjector.install();
afterEach(() => faults.clear());
afterAll(() => faults.uninstall());

/** `done(true)` once `commit` (or the retry it names, and so on) is durable; `done(false)` if it finally fails. */
function whenSettled(commit: Commit, done: (durable: boolean) => void): void {
  commit.onSettled(() => {
    if (commit.state === "durable") done(true);
    else if (commit.retry !== null) whenSettled(commit.retry, done);
    else done(false);
  });
}

function configFor(dir: string, policy: string): KestrelConfig {
  const text = [
    `sync_journal = "${policy}"`,
    'max_journal_size = "2KiB"',
    "max_journal_overflow = 2",
    'max_memory_size = "2KiB"',
    "expiration_timer_frequency = 0",
  ].join("\n");
  const config = parseConfig(text, join(dir, "kestrel.toml"));
  return { ...config, server: { ...config.server, queuePath: dir } };
}

/** What the clients saw. */
class Ledger {
  readonly sent = new Set<string>();
  /** STORED: the set's commit was durable. */
  readonly acked = new Set<string>();
  /** Handed out by a take, whatever became of its removal. */
  readonly taken = new Set<string>();
  /** Handed out by a take whose removal is on disk: must never come back. */
  readonly consumed = new Set<string>();
  /** A close (confirm) was made. */
  readonly closing = new Set<string>();
  /** ... and its record is on disk: must never come back. */
  readonly confirmed = new Set<string>();
}

class Scenario {
  queues: QueueCollection;
  readonly ledger = new Ledger();
  private readonly open = new Map<string, Item[]>(QUEUES.map((name) => [name, []]));
  private next = 0;

  constructor(
    private readonly config: KestrelConfig,
    private readonly random: () => number,
  ) {
    this.queues = QueueCollection.load(config);
    for (const name of QUEUES) {
      // An item held open all along keeps the oldest segment alive, so the journal grows past
      // its live data and gets compacted.
      this.ledger.sent.add(`${name}-held`);
      this.queues.add(name, bytes(`${name}-held`), 0, Date.now());
      this.queue(name).open(Date.now());
    }
  }

  queue(name: string): PersistentQueue {
    return this.queues.get(name)!;
  }

  async run(steps: number): Promise<void> {
    for (let i = 0; i < steps; i++) {
      const roll = this.random();
      const name = QUEUES[Math.floor(this.random() * QUEUES.length)]!;
      if (roll < 0.35) this.put(name);
      else if (roll < 0.6) this.take(name, "remove");
      else if (roll < 0.7) this.take(name, "open");
      else if (roll < 0.8) this.close(name);
      else if (roll < 0.84) this.abort(name);
      else if (roll < 0.96) await tick();
      else this.queues.maintainJournals();
    }
    await tick();
  }

  private put(name: string): void {
    const size = this.random() < 0.03 ? 20_000 : Math.floor(this.random() * 200);
    const data = `${name}-${this.next++}-${"p".repeat(size)}`;
    this.ledger.sent.add(data);
    const failing = this.queue(name).journalFailure !== null;
    const result = this.queues.add(name, bytes(data), 0, Date.now());
    if (typeof result === "string") {
      expect({ result, failing }).toEqual({ result: "unavailable", failing: true });
      return;
    }
    expect(failing).toBe(false);
    whenSettled(result, (durable) => durable && this.ledger.acked.add(data));
  }

  private take(name: string, mode: "remove" | "open"): void {
    const queue = this.queue(name);
    const failing = queue.journalFailure !== null;
    const item = mode === "remove" ? queue.remove(Date.now()) : queue.open(Date.now());
    if (failing) expect(item).toBeUndefined();
    if (item === undefined) return;
    const data = text(item.data);
    if (mode === "open") return void this.open.get(name)!.push(item);
    this.ledger.taken.add(data);
    whenSettled(queue.commit, (durable) => durable && this.ledger.consumed.add(data));
  }

  /** Confirms the oldest open item (the server refuses a close while the journal is failing). */
  private close(name: string): void {
    const queue = this.queue(name);
    const item = this.open.get(name)!.shift();
    if (item === undefined) return;
    if (queue.journalFailure !== null) return void this.open.get(name)!.unshift(item);
    const data = text(item.data);
    this.ledger.closing.add(data);
    queue.confirm(item);
    whenSettled(queue.commit, (durable) => durable && this.ledger.confirmed.add(data));
  }

  private abort(name: string): void {
    const item = this.open.get(name)!.shift();
    if (item !== undefined) this.queue(name).abort(item, Date.now());
  }

  /** Upkeep until every journal is healthy again (a few rounds: a retry, then a rotation or rebuild). */
  async recover(): Promise<void> {
    for (let round = 0; round < 5 && QUEUES.some((name) => this.queue(name).journalFailure !== null); round++) {
      this.queues.maintainJournals();
      await tick();
    }
    for (const name of QUEUES) expect({ name, failure: this.queue(name).journalFailure }).toEqual({ name, failure: null });
  }

  /**
   * Replays a copy of the files as they are now (as a crash would leave them) and checks the
   * ledger as it was when the copy was taken: loading and closing the copy flushes every journal
   * of this process, this scenario's too, and what that acknowledges came after the "crash".
   */
  checkCrash(when: string): void {
    const { sent, acked, taken, consumed, closing, confirmed } = snapshot(this.ledger);
    const replayed = faults.withoutFaults(() => {
      const copy = tempDir();
      copyDataDir(this.config.server.queuePath, copy);
      const restored = QueueCollection.load({ ...this.config, server: { ...this.config.server, queuePath: copy } });
      const items = QUEUES.flatMap((name) => drain(restored.getOrCreate(name)));
      restored.close();
      return items;
    });
    const present = new Set(replayed);
    expect({
      when,
      duplicated: replayed.length - present.size,
      invented: replayed.filter((data) => !sent.has(data)),
      cameBack: replayed.filter((data) => consumed.has(data) || confirmed.has(data)).map(short),
      lost: [...acked].filter((data) => !taken.has(data) && !closing.has(data) && !present.has(data)).map(short),
    }).toEqual({ when, duplicated: 0, invented: [], cameBack: [], lost: [] });
  }
}

const short = (data: string) => data.slice(0, 24);

/** A copy of the ledger's sets as they are now. */
function snapshot(ledger: Ledger): Ledger {
  const copy = new Ledger();
  for (const key of Object.keys(copy) as (keyof Ledger)[]) for (const data of ledger[key]) copy[key].add(data);
  return copy;
}

function drain(queue: PersistentQueue): string[] {
  const out: string[] = [];
  for (let item = queue.remove(Date.now()); item !== undefined; item = queue.remove(Date.now())) out.push(text(item.data));
  return out;
}

/** Runs the scenario with `set` in force after the warm-up; returns how many calls the first fault matched. */
async function runCase(policy: string, set: readonly Fault[], seed: number): Promise<number> {
  const scenario = new Scenario(configFor(tempDir(), policy), seededRandom(seed));
  await scenario.run(80);
  faults.set(set);
  await scenario.run(150);
  // An interval fsync runs on its own timer: give it the time to come round.
  for (const deadline = Date.now() + 2000; set.length > 0 && faults.calls[0] === 0 && Date.now() < deadline; ) await tick();
  const calls = faults.calls[0] ?? 0;
  scenario.checkCrash("while the fault lasts");
  faults.clear();
  await scenario.recover();
  await scenario.run(60);
  scenario.checkCrash("after recovery");
  scenario.queues.close();
  scenario.checkCrash("after a clean close");
  return calls;
}

/** Paths: the active segment, a sealed one, a temp file (new segment, pack), a pack, the directory. */
const ACTIVE = "/[qr]$";
const SEALED = "/[qr]\\.\\d+$";
const TEMP = "\\.tmp$";
const PACK = "\\.pack$";
const DIRECTORY = "/kestrel-unit-[^/]+$";

const ALL = ["never", "always"];
const SYNCING = ["always", "20ms"];

/** op, errno, path, the step it hits, the policies under which that step runs, a short write. */
const CASES: ReadonlyArray<readonly [FaultOp, FaultCode, string | undefined, string, readonly string[], boolean?]> = [
  ["writev", "ENOSPC", ACTIVE, "append", ALL],
  ["writev", "EIO", ACTIVE, "append", ALL],
  ["writev", "ENOSPC", ACTIVE, "append, short write", ALL, true],
  ["writev", "ENOSPC", TEMP, "new segment or pack", ALL],
  ["writev", "EIO", undefined, "any write", ALL],
  ["stat", "EIO", ACTIVE, "the check after a write", ALL],
  ["fstat", "EIO", ACTIVE, "reading the identity of the file just opened", ALL],
  ["fsyncAsync", "EIO", ACTIVE, "group-commit or interval fsync", SYNCING],
  ["fsyncAsync", "EIO", TEMP, "pack fsync", ALL],
  ["fsync", "EIO", ACTIVE, "fsync before sealing", SYNCING],
  ["fsync", "EIO", TEMP, "new segment fsync", SYNCING],
  ["fsync", "EIO", DIRECTORY, "directory fsync", ALL],
  ["open", "EMFILE", TEMP, "new segment or pack", ALL],
  ["open", "EMFILE", DIRECTORY, "directory fsync", ALL],
  ["open", "EMFILE", SEALED, "read-behind", ALL],
  ["open", "EACCES", undefined, "any open", ALL],
  ["read", "EIO", undefined, "read-behind", ALL],
  ["rename", "EIO", ACTIVE, "sealing the active segment", ALL],
  ["rename", "EACCES", TEMP, "new segment or pack into place", ALL],
  ["rename", "EIO", PACK, "installing a pack", ALL],
  ["rename", "EIO", undefined, "any rename", ALL],
  ["rename", "EACCES", SEALED, "sealing, or moving replaced or consumed segments aside", ALL],
  ["removeAsync", "EIO", undefined, "deleting replaced or consumed segments in the background", ALL],
  ["stat", "EIO", undefined, "upkeep checks", ALL],
  ["ftruncate", "EIO", undefined, "cutting a failed write (with ENOSPC on append)", ALL],
];

describe("journal faults", () => {
  for (const [op, code, path, step, policies, short] of CASES) {
    for (const policy of policies) {
      test(`${op} ${code} at ${step} (sync_journal = ${policy})`, async () => {
        const fault: Fault = { op, code, path, short };
        // ftruncate only runs after a failed write: fail appends too.
        const companion: Fault[] = op === "ftruncate" ? [{ op: "writev", code: "ENOSPC", path: ACTIVE, times: 3 }] : [];
        const seed = 7;
        const calls = await runCase(policy, [fault, ...companion], seed);
        expect(calls).toBeGreaterThan(0);
        const points = new Set(Array.from({ length: POINTS }, (_, i) => Math.floor((i * calls) / POINTS)));
        for (const after of points) await runCase(policy, [{ ...fault, after }, ...companion], seed);
      });
    }
  }

  test("with no fault the scenario keeps every promise (calibration of the harness)", async () => {
    expect(await runCase("never", [], 3)).toBe(0);
  });
});
