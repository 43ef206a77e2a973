/**
 * Segments lost or cut short while the server was down: every segment but the first of a journal
 * starts with a SEGMENT record saying what its predecessor held when it was sealed, so replay
 * reports exactly how many records are gone, and items whose removal was in the lost part (below
 * the floor the record states) are not served again.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { OP_REMOVE } from "../../src/journal/record.ts";
import { scanJournal } from "../../src/journal/scan.ts";
import { configureLog } from "../../src/log.ts";
import { QueueCollection } from "../../src/queue/queue_collection.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NOW = Date.now();
const CONFIG = 'max_journal_size = "1KiB"\n';

afterEach(() => configureLog("info", null));

/**
 * 60 items of 100 bytes on queue q (segments of 1 KiB); from the 20th add on, each add is followed
 * by taking the head, until `removed` are taken: the REMOVE records are spread over the middle
 * segments.
 */
function fill(dir: string, removed: number): string[] {
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  const items = Array.from({ length: 60 }, (_, i) => `${String(i).padStart(3, "0")}:${"i".repeat(96)}`);
  for (const [i, data] of items.entries()) {
    queues.add("q", bytes(data), 0, NOW);
    if (i >= 20 && i < 20 + removed) queues.get("q")!.remove(NOW);
    flushJournals();
  }
  queues.close();
  return items.slice(removed);
}

/** Replays `dir`, logging to a file; returns what is queued and what the log said. */
function replay(dir: string): { items: string[]; log: string } {
  const logFile = join(tempDir(), "log");
  configureLog("info", logFile);
  const queues = QueueCollection.load(configFor(dir, CONFIG));
  const queue = queues.get("q")!;
  const items: string[] = [];
  for (let item = queue.remove(NOW); item !== undefined; item = queue.remove(NOW)) items.push(text(item.data));
  queues.close();
  configureLog("info", null);
  return { items, log: readFileSync(logFile, "utf8") };
}

const sealed = (dir: string) => readdirSync(dir).filter((name) => /^q\.\d+$/.test(name)).sort();

describe("segments lost while the server was down", () => {
  test("an intact journal replays without a word about damage", () => {
    const dir = tempDir();
    const left = fill(dir, 10);
    expect(sealed(dir).length).toBeGreaterThan(4);
    const { items, log } = replay(dir);
    expect(items).toEqual(left);
    expect(log).not.toContain("damaged");
  });

  test("a sealed segment cut at a record boundary: the records missing are counted exactly", () => {
    const dir = tempDir();
    fill(dir, 0);
    const victim = sealed(dir)[2]!;
    const path = join(dir, victim);
    const ends: number[] = [];
    const summary = scanJournal(readFileSync(path), NOW, { current: (_record, _offset, end) => ends.push(end) });
    const keep = 3;
    truncateSync(path, ends[keep - 1]!);
    const { log } = replay(dir);
    expect(log).toContain(`${victim} is ${ends.at(-1)! - ends[keep - 1]!} bytes shorter than when it was sealed (${summary.records - keep} of its ${summary.records} records missing)`);
    expect(log).toContain(`${summary.records - keep} records lost`);
  });

  test("a segment missing from the middle is reported, and items its records had removed stay removed", () => {
    const dir = tempDir();
    const left = fill(dir, 15);
    // The segment holding the most REMOVE records.
    const removals = (name: string) => {
      let count = 0;
      scanJournal(readFileSync(join(dir, name)), NOW, { current: (record) => void (record.op === OP_REMOVE && count++) });
      return count;
    };
    const victim = sealed(dir).reduce((best, name) => (removals(name) > removals(best) ? name : best));
    expect(removals(victim)).toBeGreaterThan(3);
    const records = scanJournal(readFileSync(join(dir, victim)), NOW, {}).records;
    rmSync(join(dir, victim));
    const { items, log } = replay(dir);
    expect(log).toContain(`${victim} missing (at least ${records} records)`);
    expect(log).toMatch(/item\(s\) those records had removed were dropped again/);
    // Nothing consumed comes back, whatever was in the lost segment.
    const consumed = Array.from({ length: 15 }, (_, i) => `${String(i).padStart(3, "0")}:`);
    expect(items.filter((data) => consumed.some((prefix) => data.startsWith(prefix)))).toEqual([]);
    expect(items.every((data) => left.includes(data))).toBe(true);
  });
});
