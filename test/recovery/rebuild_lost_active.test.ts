/**
 * A queue in read-behind (items past max_memory_size written only to the journal) whose active
 * journal file is deleted, replaced, or taken with all of queue_path, under the running server.
 * The writer still holds the file open, so the next batch is written to it before the writer
 * notices; those sets are answered once the journal is rebuilt. The promise under test: every set
 * acknowledged (its commit, following retries, settled durable: a STORED), those before the
 * tampering and those after, is served after the rebuild, and after a restart (or a kill -9 once
 * it is in place), exactly once, in order; nothing else is. And where the file was beyond reach
 * (deleted while the writer's descriptor was closed, or cut), the set whose write found it so is
 * kept all the same, from the record the writer kept; only the items in that file are lost.
 */
import { expect, test } from "bun:test";
import { copyFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KestrelConfig } from "../../src/config/load.ts";
import { onceDurable } from "../../src/journal/commit.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { closeIdleFiles } from "../../src/journal/idle_files.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { ServerProcess } from "../helpers/server.ts";
import { copyDataDir, tempDir } from "../helpers/temp_dir.ts";

const NOW = Date.now();
/** 16 items of 1,000 bytes in memory, the rest on disk; every record in the active file (no rotation). */
const CONFIG = 'max_memory_size = "16KiB"\nmax_journal_size = "1MiB"\nexpiration_timer_frequency = 0\n';
const BEFORE = 40;
const AFTER = 5;

const TAMPERINGS: ReadonlyArray<readonly [string, (dir: string) => void]> = [
  ["the active file deleted", (dir) => rmSync(join(dir, "q"))],
  [
    "the active file replaced (renamed over) by an empty file",
    (dir) => {
      writeFileSync(join(dir, "other"), "");
      renameSync(join(dir, "other"), join(dir, "q"));
    },
  ],
  [
    "the active file replaced by a copy of itself",
    (dir) => {
      copyFileSync(join(dir, "q"), join(dir, "q.copy"));
      renameSync(join(dir, "q.copy"), join(dir, "q"));
    },
  ],
  ["queue_path removed (rm -rf)", (dir) => rmSync(dir, { recursive: true, force: true })],
  ["the active file moved away (still linked elsewhere)", (dir) => renameSync(join(dir, "q"), join(dir, "q.moved"))],
  [
    "the active file moved away and a copy put in its place",
    (dir) => {
      renameSync(join(dir, "q"), join(dir, "q.moved"));
      copyFileSync(join(dir, "q.moved"), join(dir, "q"));
    },
  ],
];

/** The ids a start on a copy of `config`'s directory serves (a crash now). */
function servedAfterCrash(config: KestrelConfig): string[] {
  const copy = copyDataDir(config.server.queuePath);
  const queues = QueueCollection.load({ ...config, server: { ...config.server, queuePath: copy } });
  const served = drain(queues);
  queues.close();
  return served;
}

function drain(queues: QueueCollection): string[] {
  const queue = queues.getOrCreate("q");
  const out: string[] = [];
  for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) out.push(text(item.data).split(":")[0]!);
  return out;
}

/** Sets ids on q one write each; `acked` collects, in set order, those whose commit ends durable. */
class Ledger {
  readonly sent: string[] = [];
  private readonly durable = new Set<string>();
  constructor(private readonly queues: QueueCollection) {}

  set(id: string): void {
    const commit = this.queues.add("q", bytes(`${id}:`.padEnd(1000, "x")), 0, NOW);
    flushJournals();
    if (typeof commit === "string") return;
    this.sent.push(id);
    onceDurable(commit, () => this.durable.add(id));
  }

  get acked(): string[] {
    return this.sent.filter((id) => this.durable.has(id));
  }
}

/** Waits turn by turn until `done` (the rebuild's fsyncs return off the event loop); throws after 10 s. */
/**
 * Rebuilds the journal of `q` after its active file's items were lost (the first `BEFORE` set, then
 * `AFTER` more: the first of them acknowledged, its write having found the loss, the others
 * refused) and checks what is served after a crash and after the rebuild: the items that were in
 * memory and that first set after the loss, in order; then closes the collection.
 */
function expectRebuiltWithFirstSetAfter(queues: QueueCollection, ledger: Ledger, inMemory: number, config: KestrelConfig): void {
  queues.maintainJournals();
  flushJournals();
  expect(queues.get("q")!.journalFailure).toBeNull();
  const acked = ledger.acked;
  expect(acked).toEqual(Array.from({ length: BEFORE + 1 }, (_, i) => String(i)));
  const kept = [...acked.slice(0, inMemory), String(BEFORE)];
  expect(servedAfterCrash(config)).toEqual(kept);
  expect(drain(queues)).toEqual(kept);
  queues.close();
}

async function turnsUntil(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const [what, tamper] of TAMPERINGS) {
  for (const overTurns of [false, true]) {
    test(`${what}, rebuilt ${overTurns ? "over turns (routine upkeep)" : "in the call (thorough upkeep)"}: every item acknowledged is served after the rebuild and after a crash, once, in order`, async () => {
      const dir = tempDir();
      const config = configFor(dir, CONFIG);
      const queues = QueueCollection.load(config);
      const ledger = new Ledger(queues);
      for (let i = 0; i < BEFORE; i++) ledger.set(String(i));
      const queue = queues.get("q")!;
      expect(queue.diskRegion()).not.toBeNull();
      tamper(dir);
      for (let i = BEFORE; i < BEFORE + AFTER; i++) ledger.set(String(i));
      if (overTurns) {
        queue.maintainJournal(false);
        await turnsUntil("the rebuild", () => !queue.journalRebuilding && queue.journalFailure === null);
      } else {
        queues.maintainJournals();
      }
      flushJournals();
      expect(queue.journalFailure).toBeNull();
      const acked = ledger.acked;
      // The sets before the tampering were acknowledged when written; so is at least the first after it.
      expect(acked.slice(0, BEFORE + 1)).toEqual(Array.from({ length: BEFORE + 1 }, (_, i) => String(i)));
      expect(servedAfterCrash(config)).toEqual(acked);
      expect(drain(queues)).toEqual(acked);
      queues.close();
    });
  }
}

test("the active file moved away (mv) under the writer: the write after it finds it moved, so no set is acknowledged while its record is only in the moved file; a crash at any point serves every set acknowledged", async () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const queues = QueueCollection.load(config);
  const ledger = new Ledger(queues);
  for (let i = 0; i < BEFORE; i++) ledger.set(String(i));
  renameSync(join(dir, "q"), join(dir, "q.moved"));
  for (let i = BEFORE; i < BEFORE + AFTER; i++) ledger.set(String(i));
  // Before any upkeep: what a crash now would serve holds every set acknowledged since the move.
  const ackedSinceMove = ledger.acked.filter((id) => Number(id) >= BEFORE);
  const served = new Set(servedAfterCrash(config));
  expect(ackedSinceMove.filter((id) => !served.has(id))).toEqual([]);
  const queue = queues.get("q")!;
  queue.maintainJournal(false);
  await turnsUntil("the rebuild", () => !queue.journalRebuilding && queue.journalFailure === null);
  flushJournals();
  const acked = ledger.acked;
  expect(acked.slice(0, BEFORE + 1)).toEqual(Array.from({ length: BEFORE + 1 }, (_, i) => String(i)));
  expect(servedAfterCrash(config)).toEqual(acked);
  expect(drain(queues)).toEqual(acked);
  queues.close();
});

test("the active file deleted while the writer's descriptor was closed (idle): the set that found it gone is kept from the writer's records; only the items that were in the deleted file are lost", () => {
  const dir = tempDir();
  const config = configFor(dir, CONFIG);
  const queues = QueueCollection.load(config);
  const ledger = new Ledger(queues);
  for (let i = 0; i < BEFORE; i++) ledger.set(String(i));
  const queue = queues.get("q")!;
  const inMemory = queue.stats().memItems;
  closeIdleFiles(); // a round: the files were used in it
  closeIdleFiles(); // the next: not used since, closed
  rmSync(join(dir, "q")); // nothing holds it any more: the items waiting in it are gone
  for (let i = BEFORE; i < BEFORE + AFTER; i++) ledger.set(String(i)); // the first one's write fails; the others are refused
  expectRebuiltWithFirstSetAfter(queues, ledger, inMemory, config);
});

for (const [what, cutBy] of [["to half its size", (size: number) => Math.floor(size / 2)], ["by its last 10 bytes", (size: number) => size - 10]] as const) {
  test(`the active file cut ${what}: the set whose write found it cut is kept from the writer's records (its record went to the cut file); the items in the cut file are lost`, () => {
    const dir = tempDir();
    const config = configFor(dir, CONFIG);
    const queues = QueueCollection.load(config);
    const ledger = new Ledger(queues);
    for (let i = 0; i < BEFORE; i++) ledger.set(String(i));
    const queue = queues.get("q")!;
    const inMemory = queue.stats().memItems;
    const path = join(dir, "q");
    truncateSync(path, cutBy(statSync(path).size));
    for (let i = BEFORE; i < BEFORE + AFTER; i++) ledger.set(String(i)); // the first one's write finds the cut; the others are refused
    expectRebuiltWithFirstSetAfter(queues, ledger, inMemory, config);
  });
}

for (const [what, tamper] of [TAMPERINGS[0]!, TAMPERINGS[1]!, TAMPERINGS[3]!]) {
  test(`a server in read-behind, ${what}, killed -9 once the journal is rebuilt: the restart serves every item acknowledged, once, in order`, async () => {
    const server = await ServerProcess.start({ config: 'max_memory_size = "16KiB"\nmax_journal_size = "1MiB"\n' });
    const c = await server.client();
    const acked: string[] = [];
    const set = async (id: string): Promise<void> => {
      if ((await c.set("q", `${id}:${"x".repeat(1000)}`)) === "STORED") acked.push(id);
    };
    for (let i = 0; i < BEFORE; i++) await set(String(i));
    expect(readdirSync(server.dataDir)).toContain("q");
    const mark = server.output.length;
    tamper(server.dataDir);
    for (let i = BEFORE; i < BEFORE + AFTER; i++) await set(String(i));
    await server.waitForLog(/queue 'q': journal rebuilt/, mark);
    expect(acked.length).toBeGreaterThan(BEFORE);
    c.close();
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    expect((await c2.drain("q")).map((data) => data.split(":")[0]!)).toEqual(acked);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  }, 60_000);
}
