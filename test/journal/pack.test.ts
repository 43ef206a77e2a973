/**
 * Packs (compaction, reset, rebuild) replay exactly within a memory budget, whatever the queue
 * order: after aborts the head is in falling ids, and a later REMOVE of one of those items must
 * still find it at the next start.
 */
import { describe, expect, test } from "bun:test";
import type { Journal } from "../../src/journal/journal.ts";
import type { PackEntry } from "../../src/journal/pack.ts";
import { bytes, text } from "../helpers/bytes.ts";
import { openQueueJournal, settled } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const BUDGET = 10 * 1024;
/** An item's flags, the top bit set: every pack must carry them over. */
const flagsOf = (id: number) => (0x8000_0000 | id) >>> 0;
const entry = (id: number, open = false): PackEntry => ({ item: { id, addTime: 0, expiry: 0, flags: flagsOf(id), data: bytes(`${id}:`.padEnd(500, ".")) }, open });
const idOf = (data: Uint8Array) => Number(text(data).split(":")[0]);

/** The ids of q's items replayed within the budget, in queue order (those left on disk read back). */
function replayWithinBudget(dir: string): number[] {
  const opened = openQueueJournal(dir, "q", { memoryBudget: BUDGET });
  const ids = opened.items.map((item) => idOf(item.data));
  if (opened.disk !== null) ids.push(...opened.journal.readItems(opened.disk.start, opened.disk.count, Infinity).items.map((item) => idOf(item.data)));
  opened.journal.close();
  return ids;
}

const WRITERS: ReadonlyArray<readonly [string, (journal: Journal, entries: PackEntry[]) => Promise<void> | void]> = [
  ["a compaction", (journal, entries) => journal.compact(entries)],
  ["a reset", (journal, entries) => settled(journal.reset(entries))],
  ["a rebuild", (journal, entries) => void journal.rebuild(entries, null)],
];

describe("a pack of a head out of id order, replayed within a memory budget", () => {
  for (const [writer, write] of WRITERS) {
    test(`${writer}: items removed after it stay removed`, async () => {
      const dir = tempDir();
      const { journal } = openQueueJournal(dir);
      // An open item, then 29..0: aborted items returned to the head newest first; 15 KB, over the budget.
      const entries = [entry(30, true), ...Array.from({ length: 30 }, (_, i) => entry(29 - i))];
      await write(journal, entries);
      journal.close();
      expect(replayWithinBudget(dir)).toEqual([30, ...Array.from({ length: 30 }, (_, i) => 29 - i)]);

      const again = openQueueJournal(dir, "q", { memoryBudget: BUDGET }).journal;
      for (const id of [8, 9, 30]) again.appendRemove(id);
      again.close();
      expect(replayWithinBudget(dir)).toEqual(Array.from({ length: 30 }, (_, i) => 29 - i).filter((id) => id !== 8 && id !== 9));
    });
  }
});

describe("a pack keeps every item's flags", () => {
  for (const [writer, write] of WRITERS) {
    test(`${writer}: in its OPEN, PUT_BACK and ADD records, and in items read back from disk`, async () => {
      const dir = tempDir();
      const { journal } = openQueueJournal(dir);
      // An open item, a head of aborted items (PUT_BACK records), then a run of growing ids (ADDs), 20 KB: over the budget.
      const ids = [40, ...Array.from({ length: 10 }, (_, i) => 9 - i), ...Array.from({ length: 29 }, (_, i) => 10 + i)];
      await write(journal, ids.map((id) => entry(id, id === 40)));
      journal.close();
      const opened = openQueueJournal(dir, "q", { memoryBudget: BUDGET });
      expect(opened.disk).not.toBeNull();
      const items = [...opened.items, ...opened.journal.readItems(opened.disk!.start, opened.disk!.count, Infinity).items];
      opened.journal.close();
      expect(items.map((item) => [item.id, item.flags])).toEqual(ids.map((id) => [id, flagsOf(id)]));
    });
  }
});
