/**
 * The slab-pinning pattern of attacks 14 and 15 (found by a hostile-client probe, see
 * docs/performance.md): small items are copied into shared 64 KiB slabs in the order they arrive,
 * whatever their queue, so a 1-byte item that stays while the 64 KiB of other items that arrived
 * after it leave at once can hold a whole slab. A round is one write: 64 KiB of 100-byte sets to
 * `churn` (`max_items = 10`, `discard_old_when_full`: it keeps none of them for long), sent
 * `noreply`, then the attack's own requests for the 1-byte item `k` of `keep`, whose replies end
 * the round. The next round is written once they came, so the server reads one round at a time.
 *
 * Invariants: every round sends the same bytes; a reply other than the ones the round expects
 * (STORED, or a VALUE of exactly `k`) throws.
 */
import type { AttackClient, Reply } from "./attack_client.ts";
import { CONNECTION_ALLOWANCE, type Ceiling, ITEM_ALLOWANCE, ITEM_BUFFER_SLACK, ITEM_BUFFER_WASTE_SHARE, ceiling, itemBufferWaste, per, size } from "./attack_bounds.ts";
import type { Lab } from "./attack_lab.ts";
import type { ReplyKind } from "./protocol.ts";
import { integer, mib } from "./report.ts";

/** The churning queue's settings: it keeps the last 10 items it got, without a journal (its 100-byte sets would only fill the disk). */
export const CHURN_CONFIG = "[queues.churn]\nmax_items = 10\ndiscard_old_when_full = true\njournal = false\n";
/** The items `churn` keeps (its max_items). */
export const CHURN_KEPT = 10;
/** The item kept: one byte. */
export const KEPT_ITEM = Buffer.from("k");
/** What a VALUE of the kept item carries (its data block with its CRLF). */
export const KEPT_VALUE_BLOCK = Buffer.from("k\r\n");
/** The other queue's items, and how many of them make a slab's worth. */
export const CHURN_ITEM_BYTES = 100;
export const CHURN_PER_ROUND = Math.floor((64 * 1024) / CHURN_ITEM_BYTES);

/** A set of the kept item to `keep`. */
export const SET_KEPT = `set keep 0 0 ${KEPT_ITEM.length}\r\n${KEPT_ITEM.toString("latin1")}\r\n`;

/**
 * Runs `rounds` rounds on `client`, each the churn then `request` (the attack's own requests,
 * answered by `expected`, one reply kind per reply); `onRound` is told after each round's replies.
 */
export async function pinRounds(client: AttackClient, rounds: number, request: string, expected: readonly ReplyKind[], onRound: (round: number) => void = () => {}): Promise<void> {
  const item = Buffer.alloc(CHURN_ITEM_BYTES, "c");
  const churnSet = Buffer.concat([Buffer.from(`set churn 0 0 ${CHURN_ITEM_BYTES} noreply\r\n`), item, Buffer.from("\r\n")]);
  const write = Buffer.concat([...Array.from({ length: CHURN_PER_ROUND }, () => churnSet), Buffer.from(request, "latin1")]);
  for (let round = 1; round <= rounds; round++) {
    const replies = await client.request(write, expected.length, 120_000);
    const wrong = replies.findIndex((reply: Reply, i) => reply.kind !== expected[i]);
    if (wrong >= 0) throw new Error(`round ${round}: expected ${expected[wrong]}, got ${replies[wrong]!.kind} ${replies[wrong]!.detail}`.trim());
    onRound(round);
  }
}

/**
 * Reports the server's own count of the buffers holding items (`item_buffer_bytes`) against the
 * bytes the items use (`item_live_bytes`), judged against the documented 1.5 × + 4 MiB; a server
 * that has not these stats (before they were added) is reported, not judged.
 */
export function bufferBounds(lab: Lab, stats: Map<string, number>, when: string): void {
  const buffers = stats.get("item_buffer_bytes");
  const live = stats.get("item_live_bytes");
  if (buffers === undefined || live === undefined) {
    lab.bound(`item_buffer_bytes (buffers holding items) ${when}`, "not reported by this server", "-", null);
    return;
  }
  const limit = live * (1 + ITEM_BUFFER_WASTE_SHARE) + ITEM_BUFFER_SLACK;
  lab.bound(`item_buffer_bytes (buffers holding items) ${when}`, `${mib(buffers)} for ${integer(live)} B item_live_bytes`, `≤ 1.5 × item_live_bytes + ${size(ITEM_BUFFER_SLACK)} (${mib(limit)})`, buffers <= limit);
}

/**
 * The ceiling of R rounds: before + R kept items of 1 B, each with `allowance` besides (`what`:
 * "per kept item"), churn's items, the waste the buffers holding them may keep, one connection,
 * and the garbage of the rounds' flood of 5 million small sets.
 */
export function pinCeiling(before: number, rounds: number, allowance: number, what: string): Ceiling {
  const live = rounds * KEPT_ITEM.length + CHURN_KEPT * CHURN_ITEM_BYTES;
  return ceiling(before, [
    per(rounds, KEPT_ITEM.length + allowance, `(${KEPT_ITEM.length} B + ${size(allowance)}) ${what}`),
    per(CHURN_KEPT, CHURN_ITEM_BYTES + ITEM_ALLOWANCE, `(${CHURN_ITEM_BYTES} B + ${size(ITEM_ALLOWANCE)}) per item churn keeps`),
    itemBufferWaste(live),
    [CONNECTION_ALLOWANCE, `${size(CONNECTION_ALLOWANCE)} per connection`],
  ], "flood");
}
