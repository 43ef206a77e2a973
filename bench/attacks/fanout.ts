/**
 * Attack 6, a wide fanout: F fanout children of `parent` made by gets of `parent+c<n>` (100 per
 * get), then S sets of 64-byte items to the parent, B per write (each write after the replies to
 * the one before), then 50 sets one at a time. Children cost memory in proportion to their items,
 * and no set may stall the server (issue 9 saw 265 MB before any item, and 10,000 sets taking
 * 13.6 s with replies stalled up to 1.6 s).
 *
 * Ceiling: before + F x 8 KiB per idle queue + (F + 1) x S x (64 B + 256 B per item) + 128 KiB.
 * Other bounds: the RSS of each child before any item, read between the first get's 100 children
 * and the last's (10 KiB, a queue with its journal; the first queues of a process also pay a few
 * MiB once, for code compiled and the heap grown, shown with the RSS of all F), the time of the
 * sets, the
 * longest a set waited for its reply, a single set's reply time, the worst probe (no stall over
 * 20 ms), and every child holding S items.
 * Knobs: ATTACK_FANOUT_CHILDREN (F, default 500, quick 100), ATTACK_FANOUT_SETS (S, default
 * 10000, quick 2000), ATTACK_FANOUT_BATCH (B, default 100).
 */
import { CONNECTION_ALLOWANCE, ITEM_ALLOWANCE, JOURNALED_QUEUE_ALLOWANCE, MAX_NEW_QUEUES, QUEUE_ALLOWANCE, STALL_MS, ceiling, per } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { AttackClient, setInBatches } from "../lib/attack_client.ts";
import { integer, mib, secs } from "../lib/report.ts";

const ITEM_BYTES = 64;
/**
 * How long the children are left before their RSS is read: the quiet second's full collection
 * runs within it, and the allocator gives the freed pages back over the seconds after (read at
 * 2.5 s, the same 400 children came to 13-16 KiB each; at 6 s, 7.3).
 */
const SETTLE_CHILDREN_MS = 5000;
const SINGLE_SETS = 50;
/** A journal record of a 64-byte item, about. */
const RECORD_BYTES = 100;

export const fanout: AttackPlan = (knobs) => {
  const children = knobs.count("ATTACK_FANOUT_CHILDREN", 500, 100);
  const sets = knobs.count("ATTACK_FANOUT_SETS", 10_000, 2000);
  const batch = knobs.count("ATTACK_FANOUT_BATCH", 100, 100);
  const parameters = `${integer(children)} children made by \`get parent+c<n>\`; ${integer(sets)} sets of ${ITEM_BYTES} B to the parent, ${batch} per write; ${SINGLE_SETS} single sets`;
  return {
    title: "6. fanout",
    parameters,
    diskBytes: (children + 1) * (sets + SINGLE_SETS) * RECORD_BYTES,
    run: () => withLab("fanout", "", (lab) => attack(lab, children, sets, batch, parameters)),
  };
};

/** Sets one item at a time; the replies' times, in ms. */
async function singleSets(client: AttackClient, count: number, item: Uint8Array): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await setInBatches(client, () => "parent", 1, item, 1));
  return times.sort((a, b) => a - b);
}

async function attack(lab: Lab, children: number, sets: number, batch: number, parameters: string) {
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port);
  const incorrect: string[] = [];
  // The RSS once the first get's children are made, and once all are: the first queues of a
  // process also pay for code compiled and the heap grown once (about 4 MiB), so the cost of a
  // child is read from the difference.
  let withFirst = 0;
  for (let first = 0; first < children; first += MAX_NEW_QUEUES) {
    const names = Array.from({ length: Math.min(MAX_NEW_QUEUES, children - first) }, (_, i) => `parent+c${first + i}`);
    const [reply] = await client.request(`get ${names.join(" ")}\r\n`);
    if (reply!.kind !== "miss") incorrect.push(`get of new children answered ${reply!.kind} ${reply!.detail}`.trim());
    if (first === 0) {
      await Bun.sleep(SETTLE_CHILDREN_MS);
      withFirst = lab.server.memory().rss;
    }
  }
  await Bun.sleep(SETTLE_CHILDREN_MS);
  const withChildren = lab.server.memory().rss;
  const firstCount = Math.min(MAX_NEW_QUEUES, children);

  const item = Buffer.alloc(ITEM_BYTES, "f");
  const began = performance.now();
  const worstMs = await setInBatches(client, () => "parent", sets, item, batch);
  const setsMs = performance.now() - began;
  const single = await singleSets(client, SINGLE_SETS, item);
  client.close();
  const during = await window.end();
  const after = await lab.settle();
  const stats = await lab.stats();
  const expected = sets + SINGLE_SETS;
  const short = Array.from({ length: children }, (_, n) => stats.get(`queue_parent+c${n}_items`)).filter((items) => items !== expected).length;
  if (short > 0) incorrect.push(`${short} of ${children} children do not hold ${expected} items`);
  const roundTrip = await lab.roundTrip();
  if (roundTrip !== null) incorrect.push(roundTrip);

  lab.bound(`RSS with ${integer(children)} children, no item`, `${mib(withChildren)} (${((withChildren - during.before) / children / 1024).toFixed(1)} KiB a child, the first ${firstCount} at ${mib(withFirst)} included)`, "-", null);
  if (children > firstCount) {
    const perChild = (withChildren - withFirst) / (children - firstCount);
    lab.bound(`RSS of each child after the first ${firstCount} (each has a journal file)`, `${(perChild / 1024).toFixed(1)} KiB`, `≤ 10 KiB`, perChild <= JOURNALED_QUEUE_ALLOWANCE);
  }
  lab.bound(`${integer(sets)} sets, ${batch} per write`, `${secs(setsMs)} (${integer((sets * 1000) / setsMs)} sets/s)`, "-", null);
  lab.bound("longest a set waited for its reply (from its write)", `${worstMs.toFixed(0)} ms`, "-", null);
  lab.bound(`a single set's reply (${SINGLE_SETS}, one at a time)`, `median ${single[Math.floor(single.length / 2)]!.toFixed(1)} ms, max ${single[single.length - 1]!.toFixed(1)} ms`, "-", null);
  lab.bound("worst probe (a stall of the server)", `${during.probe.worstMs.toFixed(1)} ms`, `≤ ${STALL_MS} ms (no stall over 20 ms)`, during.probe.worstMs <= STALL_MS);
  return lab.result({
    name: "6. fanout",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      per(children, QUEUE_ALLOWANCE, "per idle queue"),
      [(children + 1) * expected * (ITEM_BYTES + ITEM_ALLOWANCE), `${integer(children + 1)} queues × ${integer(expected)} items × (${ITEM_BYTES} B + 256 B)`],
      [CONNECTION_ALLOWANCE, "128 KiB per connection"],
    ]),
    incorrect,
  });
}
