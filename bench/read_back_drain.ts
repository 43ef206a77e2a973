/**
 * Read-behind drain: one queue (max_memory_size 16 MiB) filled with TOTAL_MIB of items of
 * ITEM_BYTES, nearly all of them then only in its journal, then drained with `remove` in one
 * process, each `remove` timed as one turn (the read-backs happen in them). Prints items/s, the
 * longest takes and how many took over 5, 10 and 20 ms. The journal is in the page cache: this
 * measures the server's work per item read back (docs/performance.md, "Reading big items back").
 *
 *   bun bench/read_back_drain.ts [tree] [itemBytes] [totalMiB]    (defaults: this checkout, 1 MiB, 1024)
 *
 * `tree` is a checkout whose src/ is measured, so two commits can be compared from one copy of
 * this file. The temp dir (under TMPDIR) is removed at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Item } from "../src/journal/item.ts";

interface Queue {
  remove(now: number): Item | undefined;
}
interface Collection {
  add(name: string, data: Uint8Array, expiry: number, now: number): unknown;
  getOrCreate(name: string): Queue;
  close(): void;
}

const tree = resolve(process.argv[2] ?? join(import.meta.dir, ".."));
const itemBytes = Number(process.argv[3] ?? 1024 * 1024);
const totalMiB = Number(process.argv[4] ?? 1024);

const { QueueCollection } = (await import(join(tree, "src/queue/queue_collection.ts"))) as { QueueCollection: { load(config: unknown): Collection } };
const { parseConfig } = (await import(join(tree, "src/config/load.ts"))) as { parseConfig(text: string, file: string): unknown };
const { flushJournals } = (await import(join(tree, "src/journal/flush_scheduler.ts"))) as { flushJournals(): void };

const dir = mkdtempSync(join(tmpdir(), "read-back-drain-"));
try {
  const queues = QueueCollection.load(parseConfig(`queue_path = ${JSON.stringify(dir)}\nmax_memory_size = "16MiB"\n`, join(dir, "kestrel.toml")));
  const count = fill(queues, Math.floor((totalMiB * 1024 * 1024) / itemBytes));
  const { taken, seconds, turns } = drain(queues.getOrCreate("q"));
  queues.close();
  if (taken !== count) throw new Error(`${taken} items drained of ${count}`);
  const over = (ms: number): number => turns.filter((turn) => turn > ms).length;
  const longest = turns.slice(0, 4).map((turn) => turn.toFixed(1)).join(", ");
  console.log(`${tree}: ${taken} items of ${itemBytes} B: ${(taken / seconds).toFixed(0)} items/s; longest takes ${longest} ms; over 5 ms ${over(5)}, over 10 ms ${over(10)}, over 20 ms ${over(20)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function fill(queues: Collection, count: number): number {
  const data = new Uint8Array(itemBytes).fill(97);
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    queues.add("q", data, 0, now);
    if (i % 1000 === 999) flushJournals();
  }
  flushJournals();
  return count;
}

/** Takes every item, timing each `remove`; the turns come back longest first. */
function drain(queue: Queue): { taken: number; seconds: number; turns: number[] } {
  const now = Date.now();
  const turns: number[] = [];
  let taken = 0;
  const start = performance.now();
  for (;;) {
    const before = performance.now();
    const item = queue.remove(now);
    turns.push(performance.now() - before);
    if (item === undefined) break;
    if (item.data.length !== itemBytes) throw new Error(`item ${taken}: ${item.data.length} bytes, not ${itemBytes}`);
    if (++taken % 1000 === 0) flushJournals();
  }
  flushJournals();
  return { taken, seconds: (performance.now() - start) / 1000, turns: turns.sort((a, b) => b - a) };
}
