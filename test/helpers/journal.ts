/** Opens one queue's journal in a directory the way the server does, for journal tests. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
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

/** Bytes on disk of `queue`'s journal in `dir`: its active segment plus every `<queue>.*` file. */
export function journalBytes(dir: string, queue: string): number {
  return readdirSync(dir)
    .filter((name) => name === queue || name.startsWith(`${queue}.`))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}
