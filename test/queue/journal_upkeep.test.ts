import { expect, test } from "bun:test";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import type { Item } from "../../src/journal/item.ts";
import type { Journal } from "../../src/journal/journal.ts";
import type { PackEntry } from "../../src/journal/pack.ts";
import { JournalUpkeep, type UpkeepView } from "../../src/queue/journal_upkeep.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const SEGMENT_BYTES = 1024;
const OVERFLOW = 10;

/** A queue of `items`, all in memory, as upkeep sees it. */
function viewOf(items: readonly Item[]): UpkeepView {
  const entries: PackEntry[] = items.map((item) => ({ item, open: false }));
  const bytes = items.reduce((sum, item) => sum + item.data.length, 0);
  return {
    name: "q",
    settings: { maxJournalSize: SEGMENT_BYTES, maxJournalOverflow: OVERFLOW },
    live: () => ({ items: items.length, open: 0, bytes }),
    readFrom: () => null,
    minLiveId: () => items[0]?.id ?? Infinity,
    liveEntries: () => entries,
    diskRegion: () => null,
    relocateDisk: () => {},
    journalGap: () => null,
    retryReadBack: () => {},
    hasJournal: true,
  };
}

/** How many compactions `rounds` upkeeps of `journal` start (each awaited before the next upkeep). */
async function compactionsInUpkeeps(journal: Journal, view: UpkeepView, rounds: number): Promise<number> {
  const compact = journal.compact.bind(journal);
  let compactions = 0;
  let running: Promise<void> = Promise.resolve();
  journal.compact = (entries) => {
    compactions++;
    running = compact(entries);
    return running;
  };
  const upkeep = new JournalUpkeep();
  for (let round = 0; round < rounds; round++) {
    upkeep.run(journal, view);
    await running;
  }
  return compactions;
}

test("a journal of tiny items whose rewrite would be no smaller than max_journal_size is left alone, not compacted again and again", async () => {
  // 1,000 empty items: no data, but 38 KB of records, over 10 x 1 KiB. Counting only the data,
  // upkeep compacted them into a pack as big as the journal was, and the next upkeep compacted
  // that again, for ever (an idle server with 1M such items: 2.4 s of CPU in 10 s, 1.3 s stalls).
  const { journal } = openQueueJournal(tempDir(), "q", { segmentSize: SEGMENT_BYTES });
  const items: Item[] = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, addTime: 0, expiry: 0, flags: 0, data: new Uint8Array(0) }));
  for (const item of items) journal.appendAdd(item);
  flushJournals();
  expect(journal.size).toBeGreaterThan(SEGMENT_BYTES * OVERFLOW);
  expect(await compactionsInUpkeeps(journal, viewOf(items), 3)).toBe(0);
  expect(journal.size).toBeGreaterThan(SEGMENT_BYTES * OVERFLOW);
  journal.close();
});

test("a journal far bigger than its live items is compacted once, into a pack under max_journal_size", async () => {
  const { journal } = openQueueJournal(tempDir(), "q", { segmentSize: SEGMENT_BYTES });
  const item = (id: number): Item => ({ id, addTime: 0, expiry: 0, flags: 0, data: new Uint8Array(100) });
  for (let id = 1; id <= 200; id++) journal.appendAdd(item(id));
  flushJournals();
  const live = [item(199), item(200)];
  expect(await compactionsInUpkeeps(journal, viewOf(live), 3)).toBe(1);
  expect(journal.size).toBeLessThan(SEGMENT_BYTES);
  journal.close();
});
