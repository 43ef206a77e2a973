/** Opens one queue's journal in a directory the way the server does, for journal tests; waits for a commit. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Commit } from "../../src/journal/commit.ts";
import type { Item } from "../../src/journal/item.ts";
import { openJournal, type OpenedJournal } from "../../src/journal/open_journal.ts";
import { encodeFileHeader } from "../../src/journal/record.ts";
import { listJournalFiles } from "../../src/journal/segment_files.ts";
import type { SyncPolicy } from "../../src/journal/sync_policy.ts";

const quietEvents = { onFailure: () => {}, onRecovered: () => {} };

export interface TestJournalOptions {
  readonly policy?: SyncPolicy;
  readonly segmentSize?: number;
  readonly memoryBudget?: number;
}

export function openQueueJournal(dir: string, name = "q", options: TestJournalOptions = {}): OpenedJournal {
  return openJournal({
    dir,
    name,
    files: listJournalFiles(dir).queues.get(name) ?? null,
    settings: { policy: options.policy ?? { kind: "never" }, segmentSize: options.segmentSize ?? 16 * 1024 * 1024 },
    memoryBudget: options.memoryBudget ?? Infinity,
    events: quietEvents,
  });
}

/** A valid file header (checksum included) that claims format version `version`. */
export function headerWithVersion(version: number): Uint8Array {
  const header = encodeFileHeader();
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  view.setUint32(8, version, true);
  view.setUint32(12, Bun.hash.crc32(header.subarray(0, 12)), true);
  return header;
}

/**
 * An ADD record (or, with `putBack`, a PUT_BACK) as format versions 1 and 2 wrote it: opcode 1
 * (or 6), no flags. Built from docs/journal-format.md, not by the encoder under test.
 */
export function version2ItemRecord(item: Omit<Item, "flags">, putBack = false): Uint8Array {
  const record = new Uint8Array(34 + item.data.length);
  const view = new DataView(record.buffer);
  record[4] = 0xa7;
  record[5] = putBack ? 6 : 1;
  view.setUint32(6, 24 + item.data.length, true);
  view.setBigUint64(10, BigInt(item.id), true);
  view.setBigUint64(18, BigInt(item.addTime), true);
  view.setBigUint64(26, BigInt(item.expiry), true);
  record.set(item.data, 34);
  view.setUint32(0, Bun.hash.crc32(record.subarray(4)), true);
  return record;
}

/** Bytes on disk of `queue`'s journal in `dir`: its active segment plus every `<queue>.*` file. */
export function journalBytes(dir: string, queue: string): number {
  return readdirSync(dir)
    .filter((name) => name === queue || name.startsWith(`${queue}.`))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** Resolves once `commit` has settled (durable or failed). */
export function settled(commit: Commit): Promise<void> {
  return new Promise<void>((resolve) => commit.onSettled(resolve));
}
