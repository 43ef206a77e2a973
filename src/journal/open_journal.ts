/**
 * Opens a queue's journal at start-up: replay, recovery, repair.
 *
 * Never fails on what the file contains: damage is quarantined, reported in one log line, and
 * repaired (a torn tail is truncated; anything else, and every Kestrel-format file, is rewritten
 * atomically in the current format). Throws only for I/O errors (unreadable directory, no space)
 * and for files of a newer format version, which are left untouched.
 */
import { existsSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.ts";
import type { Item } from "./item.ts";
import { quarantine } from "./quarantine.ts";
import { replayJournal, type ReplayOutcome } from "./replay.ts";
import { estimateRecords } from "./scan.ts";
import type { SyncPolicy } from "./sync_policy.ts";
import { JournalWriter, type WriterEvents } from "./writer.ts";

export interface OpenedJournal {
  readonly writer: JournalWriter;
  readonly items: Item[];
  readonly nextId: number;
}

export class UnsupportedJournalError extends Error {}

export function openJournal(queuePath: string, name: string, policy: SyncPolicy, events: WriterEvents): OpenedJournal {
  const path = join(queuePath, name);
  if (!existsSync(path)) return { writer: new JournalWriter(path, policy, events), items: [], nextId: 1 };

  const bytes = readFileSync(path);
  const now = new Date();
  const outcome = replayJournal(bytes, now.getTime());
  if (outcome.unsupportedVersion !== null) {
    throw new UnsupportedJournalError(
      `journal ${path} has format version ${outcome.unsupportedVersion}, newer than this build reads; queue '${name}' not loaded`,
    );
  }
  // Items are views into the file buffer; copy the survivors so the buffer can be released.
  const items = outcome.items.map((item) => ({ ...item, data: new Uint8Array(item.data) }));
  if (outcome.damage.length > 0) reportDamage(queuePath, name, bytes, outcome, now);

  const tailOnly = outcome.format === "current" && outcome.damage.length === 1 && outcome.damage[0]!.start === outcome.validEnd && outcome.damage[0]!.start > 0;
  if (tailOnly) truncateSync(path, outcome.validEnd);
  const writer = new JournalWriter(path, policy, events);
  if (outcome.format === "kestrel" || (outcome.damage.length > 0 && !tailOnly)) {
    writer.rewrite([], items);
    if (outcome.format === "kestrel") log.info(`queue '${name}': converted Kestrel journal (${outcome.records} records) to the current format`);
  }
  return { writer, items, nextId: outcome.nextId };
}

function reportDamage(queuePath: string, name: string, bytes: Uint8Array, outcome: ReplayOutcome, now: Date): void {
  const files = quarantine(queuePath, name, bytes, outcome.damage, now);
  const quarantined = outcome.damage.reduce((sum, range) => sum + (range.end - range.start), 0);
  const dropped = outcome.damage.reduce((sum, range) => sum + estimateRecords(bytes, range, outcome.format, now.getTime()), 0);
  const ranges = outcome.damage.map((range) => `${range.start}-${range.end} (${range.reason})`).join(", ");
  log.warn(
    `queue '${name}': journal damaged; kept ${outcome.records} records (${outcome.items.length} items), ` +
      `dropped about ${dropped} records in ${outcome.damage.length} damaged range(s) at offsets ${ranges}; ` +
      `quarantined ${quarantined} bytes in ${files.length} file(s) under ${join(queuePath, "quarantine")}`,
  );
}
