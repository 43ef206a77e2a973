/**
 * Property-based tests of the journal (fast-check): random sequences of queue operations on a
 * PersistentQueue with a journal, checked against QueueModel after every operation and every
 * replay. Operations: adds of 0 bytes to 256 KiB (bursts of thousands of tiny items, so one
 * write holds records across several 64 KiB batch arenas), removes, reliable reads (open,
 * close, abort), expiry with an advancing clock, flush, eviction (discard_old_when_full), write
 * boundaries (flushJournals, event-loop turns), rotations, compactions, read-behind (small
 * max_memory_size) and restarts: clean ones (close, reopen with openJournal) and crashes (the
 * files as they are, unwritten records lost, nothing closed first).
 *
 * KESTREL_PROPERTY_RUNS (default 200) and KESTREL_PROPERTY_SEED (default 8) scale and vary the
 * search. A failure prints fast-check's shrunk counterexample (shrinking stops after a minute)
 * with its seed and path; KESTREL_PROPERTY_SEED=<seed> KESTREL_PROPERTY_PATH=<path> replays
 * just that case.
 */
import { afterAll, beforeAll, test } from "bun:test";
import { flushExpiredNow } from "../helpers/expired_flush.ts";
import fc from "fast-check";
import { rmSync } from "node:fs";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/config/schema.ts";
import { errorText } from "../../src/errors.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import type { Item } from "../../src/journal/item.ts";
import type { Journal } from "../../src/journal/journal.ts";
import type { OpenedJournal } from "../../src/journal/open_journal.ts";
import { configureLog } from "../../src/log.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { seededRandom } from "../helpers/bytes.ts";
import { openQueueJournal, settled } from "../helpers/journal.ts";
import { shrinkBudgeted } from "../helpers/property_budget.ts";
import { QueueModel, itemMismatch, listMismatch, modelBytes, type ModelItem } from "../helpers/queue_model.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const RUNS = Number(process.env.KESTREL_PROPERTY_RUNS ?? 200);
const SEED = Number(process.env.KESTREL_PROPERTY_SEED ?? 8);
/** Replays one case: the `path` fast-check printed with a failure (and its seed). */
const PATH = process.env.KESTREL_PROPERTY_PATH;
/** Shrinking stops after this long; the counterexample shrunk so far is reported. */
const SHRINK_BUDGET_MS = 60_000;
const START = 1_795_000_000_000;
const KiB = 1024;
const MiB = 1024 * KiB;

/** Item sizes, and how many items of that size one burst may add. */
const SIZES = {
  empty: { min: 0, max: 0, burst: 3000 },
  tiny: { min: 1, max: 16, burst: 3000 },
  small: { min: 17, max: KiB, burst: 300 },
  medium: { min: KiB + 1, max: 24 * KiB, burst: 40 },
  large: { min: 24 * KiB + 1, max: 64 * KiB, burst: 8 },
  huge: { min: 64 * KiB + 1, max: 256 * KiB, burst: 3 },
} as const;
type SizeClass = keyof typeof SIZES;

type Op =
  | { readonly op: "add"; readonly count: number; readonly size: SizeClass; readonly expiresInMs: number; readonly seed: number }
  | { readonly op: "remove" | "open"; readonly count: number }
  | { readonly op: "confirm" | "abort"; readonly pick: number }
  | { readonly op: "churn"; readonly count: number; readonly seed: number }
  | { readonly op: "tick"; readonly ms: number }
  | { readonly op: "maintain"; readonly wait: boolean }
  | { readonly op: "peek" | "sweep" | "flushExpired" | "flush" | "write" | "turn" | "rotate" | "restart" | "crash" };

type Setup = Pick<
  QueueConfig,
  "maxItems" | "maxSize" | "discardOldWhenFull" | "maxAge" | "maxJournalSize" | "maxJournalOverflow" | "maxMemorySize"
>;

const unlimitedOr = (arbitrary: fc.Arbitrary<number>) => fc.oneof({ weight: 3, arbitrary: fc.constant(Infinity) }, arbitrary);

const setupArb: fc.Arbitrary<Setup> = fc.record({
  maxItems: unlimitedOr(fc.integer({ min: 0, max: 3000 })),
  maxSize: unlimitedOr(fc.integer({ min: 0, max: MiB })),
  discardOldWhenFull: fc.boolean(),
  maxAge: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 60_000 })),
  // Mostly small segments: rotations, dead segments and compactions happen only there.
  maxJournalSize: fc.oneof(fc.constantFrom(16 * MiB, MiB), { weight: 3, arbitrary: fc.constantFrom(64 * KiB, 16 * KiB, 4 * KiB, KiB) }),
  maxJournalOverflow: fc.integer({ min: 1, max: 4 }),
  maxMemorySize: fc.oneof({ weight: 2, arbitrary: fc.constant(128 * MiB) }, fc.integer({ min: 0, max: 256 * KiB })),
});

/** Mostly a few, sometimes a burst. */
const countArb = (burst: number) => fc.oneof({ weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.integer({ min: 1, max: burst }));

const addArb = (size: SizeClass): fc.Arbitrary<Op> =>
  fc.record({
    op: fc.constant("add" as const),
    count: countArb(SIZES[size].burst),
    size: fc.constant(size),
    expiresInMs: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 30_000 })),
    seed: fc.noShrink(fc.nat()),
  });

const simple = (...ops: ("peek" | "sweep" | "flushExpired" | "flush" | "write" | "turn" | "rotate" | "restart" | "crash")[]) =>
  fc.constantFrom(...ops).map((op): Op => ({ op }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(...(Object.keys(SIZES) as SizeClass[]).map(addArb)) },
  { weight: 5, arbitrary: fc.record({ op: fc.constantFrom("remove" as const, "open" as const), count: countArb(3000) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom("confirm" as const, "abort" as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("churn" as const), count: fc.integer({ min: 1, max: 6000 }), seed: fc.noShrink(fc.nat()) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 20_000 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("maintain" as const), wait: fc.boolean() }) },
  { weight: 3, arbitrary: simple("write", "turn") },
  { weight: 2, arbitrary: simple("restart", "crash") },
  { weight: 3, arbitrary: simple("peek", "sweep", "flushExpired", "flush", "rotate") },
);

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One queue with a journal in a temp directory, driven in step with its model. */
class ModelledQueue {
  private readonly model: QueueModel;
  private readonly config: QueueConfig;
  private dir = tempDir();
  private queue!: PersistentQueue;
  private journal!: Journal;
  private replayed!: OpenedJournal;
  /** The queue's own objects for the items open now, by serial. */
  private readonly opened = new Map<number, Item>();
  private readonly expiredByQueue: Item[] = [];
  private now = START;
  private nextSerial = 1;

  constructor(setup: Setup) {
    this.config = { ...DEFAULT_QUEUE_CONFIG, ...setup, syncJournal: { kind: "never" } };
    this.model = new QueueModel(setup);
    this.reopen();
  }

  async apply(op: Op): Promise<void> {
    switch (op.op) {
      case "add": {
        const random = seededRandom(op.seed);
        const { min, max } = SIZES[op.size];
        for (let i = 0; i < op.count; i++) this.add(min + Math.floor(random() * (max - min + 1)), op.expiresInMs);
        break;
      }
      case "remove":
      case "open":
        for (let i = 0; i < op.count; i++) this.take(op.op);
        break;
      case "confirm":
      case "abort":
        this.settle(op.op, op.pick);
        break;
      case "churn":
        this.churn(op.count, seededRandom(op.seed));
        break;
      case "tick":
        this.now += op.ms;
        break;
      case "peek":
        this.expectSame(this.queue.peek(this.now), this.model.peek(this.now), "peek");
        break;
      case "sweep":
        this.expectEqual(this.queue.discardExpired(this.now), this.model.discardExpired(this.now), "expired items swept");
        break;
      case "flushExpired":
        this.flushExpired();
        break;
      case "flush": {
        const flushed = this.queue.flush();
        this.model.flush();
        this.model.allWritten(); // a flush rewrites the journal: everything before it is written
        // Its new journal is written over turns; a crash before it is committed is tested in journal_drop.test.ts.
        await settled(flushed);
        break;
      }
      case "write":
        flushJournals();
        this.model.allWritten();
        break;
      case "turn":
        await nextTurn();
        break;
      case "rotate":
        this.journal.rotate();
        this.model.allWritten(); // a rotation writes what is pending first
        break;
      case "maintain":
        this.queue.maintainJournal();
        while (op.wait && this.journal.compacting) await nextTurn();
        break;
      case "restart":
        this.restart();
        break;
      case "crash":
        this.crash();
        break;
    }
    this.checkExpired();
    this.checkCounts();
  }

  /** A clean restart, then every item taken out, each checked against the model. */
  finish(): void {
    this.restart();
    while (this.model.items.length > 0) this.take("remove");
    this.take("remove");
    this.checkExpired();
    this.checkCounts();
  }

  close(): void {
    this.queue.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private add(size: number, expiresInMs: number): void {
    const serial = this.nextSerial++;
    const expiry = expiresInMs === 0 ? 0 : this.now + expiresInMs;
    const result = this.queue.add(modelBytes(serial, size), expiry, this.now);
    const expected = this.model.add(serial, size, expiry, this.now);
    const got = typeof result === "string" ? result : "stored";
    if (got !== (expected === "full" ? "full" : "stored")) fail(`add of ${size} bytes: the queue said ${got}, the model ${expected === "full" ? "full" : "stored"}`);
  }

  private take(kind: "remove" | "open"): void {
    const actual = kind === "remove" ? this.queue.remove(this.now) : this.queue.open(this.now);
    const expected = kind === "remove" ? this.model.remove(this.now) : this.model.open(this.now);
    this.expectSame(actual, expected, kind);
    if (kind === "open" && actual !== undefined && expected !== undefined) this.opened.set(expected.serial, actual);
  }

  /** Confirms or aborts the open item `pick` (modulo how many are open); nothing if none is. */
  private settle(kind: "confirm" | "abort", pick: number): void {
    const open = this.model.openItems;
    if (open.length === 0) return;
    const serial = open[pick % open.length]!.serial;
    const item = this.opened.get(serial)!;
    this.opened.delete(serial);
    if (kind === "confirm") {
      this.queue.confirm(item);
      this.model.confirm(serial);
    } else {
      this.queue.abort(item, this.now);
      this.model.abort(serial);
    }
  }

  /**
   * `count` tiny adds, removes, opens, confirms and aborts, interleaved, with no write in between:
   * thousands of them make one write of records of every kind across several 64 KiB arenas.
   */
  private churn(count: number, random: () => number): void {
    for (let i = 0; i < count; i++) {
      const roll = random();
      if (roll < 0.5) this.add(Math.floor(random() * 25), random() < 0.2 ? 1 + Math.floor(random() * 5000) : 0);
      else if (roll < 0.7) this.take("remove");
      else if (roll < 0.85) this.take("open");
      else this.settle(roll < 0.93 ? "confirm" : "abort", Math.floor(random() * 1000));
    }
  }

  /** flush_expired looks only at the items in memory: compared only while every item is there. */
  private flushExpired(): void {
    const stats = this.queue.stats();
    if (stats.memItems !== stats.items) return;
    this.expectEqual(flushExpiredNow(this.queue, this.now), this.model.flushExpired(this.now), "expired items flushed");
  }

  private restart(): void {
    this.queue.close();
    this.model.restart();
    this.reopen();
    this.checkReplay(this.listJournal(), "a restart");
  }

  /** The process dies: the files stay as they are (what was written), the rest is lost. */
  private crash(): void {
    const survivor = tempDir();
    copyDataDir(this.dir, survivor);
    this.queue.close(); // writes into the directory left behind
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = survivor;
    this.reopen();
    const found = this.listJournal();
    const states = this.model.crashStates;
    const lastWritten = this.model.lastWritten();
    const everything = this.model.afterRestart();
    if (!this.model.recoverFromCrash(found.length, (expected) => listMismatch(found, expected, START) === null)) {
      fail(
        `after a crash the journal holds none of the ${states} states its written records allow; ` +
          `against the state last known written: ${listMismatch(found, lastWritten, START)}; ` +
          `against the state with every record written: ${listMismatch(found, everything, START)}`,
      );
    }
    this.checkReplay(found, "a crash");
  }

  private reopen(): void {
    this.replayed = openQueueJournal(this.dir, "q", { segmentSize: this.config.maxJournalSize, memoryBudget: this.config.maxMemorySize });
    this.journal = this.replayed.journal;
    // The queue takes (empties) the array it is given; `checkReplay` reads the replayed items after.
    const contents = { ...this.replayed, items: [...this.replayed.items] };
    this.queue = new PersistentQueue("q", this.config, this.journal, contents, { expired: (_queue, item) => (this.expiredByQueue.push(item), null) });
    this.opened.clear();
  }

  /** Every item the journal holds, in order: a copy of the directory replayed with no memory budget. */
  private listJournal(): Item[] {
    const copy = tempDir();
    copyDataDir(this.dir, copy);
    const { journal, items } = openQueueJournal(copy, "q");
    journal.close();
    rmSync(copy, { recursive: true, force: true });
    return items;
  }

  /** After a replay: the journal holds the model's items, and the queue has them in memory or on disk. */
  private checkReplay(found: readonly Item[], after: string): void {
    const expected = this.model.items;
    const mismatch = listMismatch(found, expected, START);
    if (mismatch !== null) fail(`after ${after} the journal holds ${mismatch}`);
    const inMemory = this.replayed.items;
    const memoryMismatch = listMismatch(inMemory, expected.slice(0, inMemory.length), START);
    if (memoryMismatch !== null) fail(`after ${after} the items replayed into memory: ${memoryMismatch}`);
    this.expectEqual(inMemory.length + (this.replayed.disk?.count ?? 0), expected.length, `items replayed after ${after}`);
  }

  private checkExpired(): void {
    const mismatch = listMismatch(this.expiredByQueue.splice(0), this.model.takeExpired(), START);
    if (mismatch !== null) fail(`expired items: ${mismatch}`);
  }

  private checkCounts(): void {
    const stats = this.queue.stats();
    this.expectEqual(stats.items, this.model.items.length, "items");
    this.expectEqual(stats.bytes, this.model.bytes, "bytes");
    this.expectEqual(stats.openTransactions, this.model.openItems.length, "open items");
  }

  private expectSame(actual: Item | undefined, expected: ModelItem | undefined, what: string): void {
    const mismatch = itemMismatch(actual, expected, START);
    if (mismatch !== null) fail(`${what}: ${mismatch}`);
  }

  private expectEqual(actual: number, expected: number, what: string): void {
    if (actual !== expected) fail(`${what}: the queue has ${actual}, the model ${expected}`);
  }
}

function fail(message: string): never {
  throw new Error(message);
}

async function runScenario(setup: Setup, ops: readonly Op[]): Promise<void> {
  const queue = new ModelledQueue(setup);
  try {
    for (const [index, op] of ops.entries()) {
      try {
        await queue.apply(op);
      } catch (error) {
        throw new Error(`operation ${index} ${JSON.stringify(op)}: ${errorText(error)}`);
      }
    }
    queue.finish();
  } finally {
    queue.close();
  }
}

// Compactions and drained journals log at info level; a run makes hundreds of them.
beforeAll(() => configureLog("warn", null));
afterAll(() => configureLog("info", null));

test(
  `a journaled queue equals a simple model after any operations, writes, rotations, compactions and restarts (${RUNS} runs, seed ${SEED})`,
  async () => {
    const ops = fc.array(opArb, { minLength: 1, maxLength: 50, size: "medium" });
    const property = fc.asyncProperty(setupArb, ops, shrinkBudgeted(SHRINK_BUDGET_MS, runScenario));
    await fc.assert(property, { numRuns: RUNS, seed: SEED, path: PATH });
  },
  SHRINK_BUDGET_MS + RUNS * 1000,
);
