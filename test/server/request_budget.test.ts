import { describe, expect, test } from "bun:test";
import { type BudgetReader, RequestBudget, SMALL_CLAIM } from "../../src/server/request_budget.ts";
import { seededRandom } from "../helpers/bytes.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
/** The most one socket read delivers (Bun 1.4 on Linux). */
const SOCKET_READ = 512 * KiB;
const HEADER = 30;

/**
 * A connection as the budget sees it: it receives its request's bytes a socket read at a time
 * while it may read, claims after each read, and gives its bytes back once the request is whole
 * (executed). A silent one sends its header and nothing more.
 */
class SimReader implements BudgetReader {
  held = 0;
  paused = false;
  done = false;

  constructor(
    private readonly budget: RequestBudget,
    readonly needed: number,
    readonly silent = false,
  ) {}

  budgetChanged(): void {
    this.claim();
  }

  claim(): void {
    this.paused = !this.budget.claim(this, this.held, this.needed);
  }

  /** Receives up to `bytes` more of its request (at most what is left); completes when whole. */
  receive(bytes: number): void {
    this.held = Math.min(this.needed, this.held + bytes);
    this.claim();
    if (this.held < this.needed) return;
    this.held = 0;
    this.done = true;
    this.claim();
  }
}

/**
 * Feeds the readers socket reads of random sizes in random order (only readers not paused, as a
 * paused socket delivers nothing), letting microtasks run between reads, until every sending
 * reader is done or no reader can be read. Returns the most the budget held at once.
 */
async function run(budget: RequestBudget, readers: SimReader[], seed: number): Promise<number> {
  const next = seededRandom(seed);
  let most = 0;
  for (const reader of readers) reader.receive(HEADER);
  for (;;) {
    await Promise.resolve();
    const readable = readers.filter((reader) => !reader.done && !reader.paused && !reader.silent);
    if (readable.length === 0) return most;
    const reader = readable[Math.floor(next() * readable.length)]!;
    reader.receive(1 + Math.floor(next() * SOCKET_READ));
    most = Math.max(most, budget.bytes);
  }
}

describe("RequestBudget", () => {
  test("a set header claims only the bytes received: squatters announcing 64 MiB don't stop another client's 1 MiB set", () => {
    const budget = new RequestBudget(() => 256 * MiB);
    const squatters = Array.from({ length: 4 }, () => new SimReader(budget, 64 * MiB - SMALL_CLAIM + 2, true));
    for (const squatter of squatters) squatter.receive(HEADER + 1);
    expect(budget.bytes).toBe(4 * (HEADER + 1));
    const victim = new SimReader(budget, MiB + 2);
    victim.receive(HEADER);
    expect(victim.paused).toBe(false);
  });

  test("a request that doesn't fit next to what the others hold waits, and goes on once they give it back", () => {
    const budget = new RequestBudget(() => 4 * MiB);
    const first = new SimReader(budget, 3 * MiB);
    first.receive(3 * MiB - KiB);
    const second = new SimReader(budget, 3 * MiB);
    second.receive(SOCKET_READ);
    expect(second.paused).toBe(true);
    expect(budget.refusals).toBe(1);
    const small = new SimReader(budget, SMALL_CLAIM);
    small.receive(SMALL_CLAIM);
    expect(small.done).toBe(true);
    first.receive(KiB);
    expect(first.done).toBe(true);
    expect(second.paused).toBe(false);
  });

  test("a request bigger than the limit is served when nobody else holds anything", () => {
    const budget = new RequestBudget(() => MiB);
    const big = new SimReader(budget, 3 * MiB);
    big.receive(2 * MiB);
    expect(big.paused).toBe(false);
  });

  test("8 clients sending 64 MiB sets under a 256 MiB limit all finish, however their reads interleave", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const budget = new RequestBudget(() => 256 * MiB);
      const readers = Array.from({ length: 8 }, () => new SimReader(budget, 64 * MiB + 2));
      const most = await run(budget, readers, seed);
      expect(readers.every((reader) => reader.done)).toBe(true);
      expect(most).toBeLessThanOrEqual(256 * MiB + readers.length * SOCKET_READ);
      expect(budget.bytes).toBe(0);
    }
  });

  test("with small sets against a tight limit, and squatters holding headers, every sender finishes", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const budget = new RequestBudget(() => 8 * MiB);
      const squatters = Array.from({ length: 3 }, () => new SimReader(budget, 4 * MiB, true));
      const senders = Array.from({ length: 12 }, (_, i) => new SimReader(budget, (1 + (i % 4)) * MiB));
      const most = await run(budget, [...squatters, ...senders], seed);
      expect(senders.every((reader) => reader.done)).toBe(true);
      expect(most).toBeLessThanOrEqual(8 * MiB + senders.length * SOCKET_READ);
    }
  });
});
