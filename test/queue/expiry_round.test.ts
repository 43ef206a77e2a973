import { describe, expect, test } from "bun:test";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/config/schema.ts";
import { ExpiryRound } from "../../src/queue/expiry_round.ts";
import { PersistentQueue } from "../../src/queue/persistent_queue.ts";
import { bytes } from "../helpers/bytes.ts";

/** Added a second ago, expired half a second ago (the sweep goes by the real clock). */
const ADDED = Date.now() - 1000;
const EXPIRED = Date.now() - 500;

function queueWith(name: string, expired: number, overrides: Partial<QueueConfig> = {}): PersistentQueue {
  const queue = new PersistentQueue(name, { ...DEFAULT_QUEUE_CONFIG, journal: false, ...overrides }, null, { items: [], disk: null, nextId: 1 }, { expired: () => null });
  for (let i = 0; i < expired; i++) queue.add(bytes(`old ${i}`), EXPIRED, ADDED);
  queue.add(bytes("live"), 0, ADDED);
  return queue;
}

async function runRound(round: ExpiryRound, queues: PersistentQueue[]): Promise<void> {
  expect(round.start(queues)).toBe(true);
  while (round.running) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe("ExpiryRound", () => {
  test("removes at most max_expire_sweep expired items per queue per round, then offers the queue for expiry", async () => {
    const offered: string[] = [];
    const round = new ExpiryRound((queue) => offered.push(queue.name));
    const limited = queueWith("limited", 5, { maxExpireSweep: 2 });
    const big = queueWith("big", 2500, { maxExpireSweep: 2100 });
    const free = queueWith("free", 2500);
    const none = queueWith("none", 3, { maxExpireSweep: 0 });
    const all = [limited, big, free, none];
    await runRound(round, all);
    expect(all.map((q) => q.stats().expiredItems)).toEqual([2, 2100, 2500, 0]);
    expect(offered).toEqual(["limited", "big", "free", "none"]);
    await runRound(round, all);
    expect(all.map((q) => q.stats().expiredItems)).toEqual([4, 2500, 2500, 0]);
    await runRound(round, all);
    expect(all.map((q) => q.stats().items)).toEqual([1, 1, 1, 4]);
  });

  test("each round has its own budget, also when it sweeps the same queue as the last", async () => {
    const round = new ExpiryRound(() => {});
    const queue = queueWith("only", 5, { maxExpireSweep: 2 });
    for (const expected of [2, 4, 5]) {
      await runRound(round, [queue]);
      expect(queue.stats().expiredItems).toBe(expected);
    }
  });
});
