/** Opens one queue's journal in a directory the way the server does, for journal tests. */
import { openJournal, type OpenedJournal } from "../../src/journal/open_journal.ts";
import { listJournalFiles } from "../../src/journal/segment_files.ts";
import type { SyncPolicy } from "../../src/journal/sync_policy.ts";

export const quietEvents = { onFailure: () => {}, onRecovered: () => {} };

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
