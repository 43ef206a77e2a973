/**
 * Samples for tests of the admin history (history.ts) and its /history.json body: stats
 * snapshots made up of given figures, a churning sequence of them, and a sample recorded in the
 * calling turn.
 */
import type { QueueStats } from "../../src/queue/persistent_queue.ts";
import type { History } from "../../src/server/admin/history.ts";
import type { Snapshot } from "../../src/server/snapshot.ts";
import { seededRandom } from "./bytes.ts";

export const T0 = 1_700_000_000_000;

/** One sample, recorded in this turn (`recordInTurns` with no limit to its slice). */
export function recordNow(history: History, sample: Snapshot, wallMs: number, monotonicMs: number): void {
  let outcome: Error | null | undefined;
  history.recordInTurns(sample, wallMs, monotonicMs, (error) => (outcome = error), Infinity);
  if (outcome === undefined) throw new Error("the sample was not recorded in one turn");
  if (outcome !== null) throw outcome;
}

/** A queue's stats: zeros but for `counts`. */
export function stats(counts: Partial<QueueStats>): QueueStats {
  return {
    items: 0,
    bytes: 0,
    totalItems: 0,
    logsize: 0,
    expiredItems: 0,
    memItems: 0,
    memBytes: 0,
    age: 0,
    discarded: 0,
    waiters: 0,
    openTransactions: 0,
    openTransactionsTimedOut: 0,
    transactions: 0,
    canceledTransactions: 0,
    totalFlushes: 0,
    journalRewrites: 0,
    journalRotations: 0,
    ...counts,
  };
}

export function snapshot(queues: Record<string, Partial<QueueStats>>, server: Record<string, number> = {}): Snapshot {
  const entries = Object.entries(queues);
  const sum = (field: keyof QueueStats) => entries.reduce((total, [, counts]) => total + (counts[field] ?? 0), 0);
  return {
    status: "up",
    server: Object.entries({ curr_items: sum("items"), bytes: sum("bytes"), curr_connections: 0, resident_bytes: 0, ...server }),
    queues: entries.map(([name, counts]) => ({ name, stats: stats(counts), children: [], journalFailure: null })),
    aliases: [],
    unavailable: [],
  };
}

/**
 * 60 snapshots of up to 400 queues with a limit of 12 kept: queues come, go and come back with
 * their counters started over, depths and rates tie and overtake each other, and some samples
 * have fewer queues than the limit or none. Seconds between samples are powers of two, so every
 * rate is exact whatever order it is summed in.
 */
export function churningSnapshots(): Snapshot[] {
  const random = seededRandom(9);
  const pick = (n: number) => Math.floor(random() * n);
  const totals = new Map<string, { totalItems: number; items: number }>();
  return Array.from({ length: 60 }, (_, sample) => {
    const present = sample % 17 === 5 ? 0 : sample % 13 === 7 ? 8 : 400;
    const queues: Snapshot["queues"][number][] = [];
    for (let n = 0; n < present; n++) {
      const name = `q${n}`;
      if (random() < 0.1) continue;
      let counts = totals.get(name);
      if (counts === undefined || random() < 0.02) counts = { totalItems: 0, items: 0 };
      const added = random() < 0.5 ? 0 : pick(30);
      counts = { totalItems: counts.totalItems + added, items: Math.max(0, counts.items + added - pick(25)) };
      totals.set(name, counts);
      queues.push({ name, stats: stats({ ...counts, bytes: counts.items * 7, openTransactions: pick(3) }), children: [], journalFailure: null });
    }
    queues.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { status: "up", server: Object.entries({ curr_items: sample, bytes: 2 * sample, curr_connections: 3, resident_bytes: 1e6 + sample }), queues, aliases: [], unavailable: [] };
  });
}
