/**
 * The upkeep turns that delete a drained queue's consumed segments (Journal.dropDrained, 5 ms
 * slices), on segments written a moment before: one queue's journal of TOTAL_MIB in 16 MiB
 * segments (items of 64 KiB, a write every 16), every item then removed, then dropDrained called
 * until nothing is left to delete, each call timed as one turn; the file-system calls made in
 * those turns are timed too, and how long the background deletes took after them. In one temp
 * dir (TMPDIR decides the file system), ROUNDS times; one line per round on stdout.
 *
 *   npm run bench:drained -- [tree]     (env DRAINED_ROUNDS, default 4; DRAINED_MIB, default 137)
 *
 * `tree` is a checkout whose src/ and test/helpers/ are measured (default: this one), so two
 * commits can be compared from one copy of this file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROUNDS = Number(process.env.DRAINED_ROUNDS ?? 4);
const TOTAL_MIB = Number(process.env.DRAINED_MIB ?? 137);
const ITEM_BYTES = 64 * 1024;
const SEGMENT_BYTES = 16 * 1024 * 1024;
/** The calls timed in the turns. */
const TIMED = ["rename", "remove", "removeAsync", "fsync", "open", "close", "stat", "writev"] as const;

const tree = resolve(process.argv[2] ?? join(import.meta.dir, ".."));
const { openQueueJournal } = (await import(join(tree, "test/helpers/journal.ts"))) as typeof import("../test/helpers/journal.ts");
const { flushJournals } = (await import(join(tree, "src/journal/flush_scheduler.ts"))) as typeof import("../src/journal/flush_scheduler.ts");
const { backgroundRemovals } = (await import(join(tree, "src/journal/deferred_removal.ts"))) as typeof import("../src/journal/deferred_removal.ts");
const { fileSystem } = (await import(join(tree, "src/journal/files.ts"))) as typeof import("../src/journal/files.ts");

/** Ms spent in each timed call since the last reset. */
const spent = new Map<string, number>();
for (const op of TIMED) {
  // Each member is a function of its own arguments: wrapped as one taking any (typed per member would need a wrapper each).
  const real = fileSystem[op] as (...args: unknown[]) => unknown;
  (fileSystem as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => {
    const start = performance.now();
    try {
      return real(...args);
    } finally {
      spent.set(op, (spent.get(op) ?? 0) + performance.now() - start);
    }
  };
}

const fmt = (ms: number) => ms.toFixed(1);

async function round(): Promise<string> {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "kestrel-drained-"));
  try {
    // A process's first fs.rm costs 4-5 ms in its turn (once): not what is measured.
    await new Promise((done) => fileSystem.removeAsync(join(dir, "nothing"), done));
    const { journal } = openQueueJournal(dir, "q", { segmentSize: SEGMENT_BYTES });
    const data = new Uint8Array(ITEM_BYTES).fill(120);
    const count = Math.floor((TOTAL_MIB * 1024 * 1024) / ITEM_BYTES);
    for (let id = 1; id <= count; id++) {
      journal.appendAdd({ id, addTime: Date.now(), expiry: 0, flags: 0, data });
      if (id % 16 === 0) flushJournals();
    }
    for (let id = 1; id <= count; id++) journal.appendRemove(id);
    flushJournals();
    const segments = journal.segmentCount;
    spent.clear();
    const turns: number[] = [];
    do {
      const start = performance.now();
      journal.dropDrained();
      turns.push(performance.now() - start);
    } while (journal.releasing);
    const calls = [...spent].map(([op, ms]) => `${op} ${fmt(ms)}`).join(", ");
    const start = performance.now();
    await backgroundRemovals();
    const background = performance.now() - start;
    journal.close();
    return `${segments} segments: ${turns.length} turn(s), longest ${fmt(Math.max(...turns))} ms [${turns.map(fmt).join(" ")}]; in them: ${calls}; background deletes done ${fmt(background)} ms after`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`tree ${tree}, ${TOTAL_MIB} MiB`);
for (let i = 0; i < ROUNDS; i++) console.log(await round());
