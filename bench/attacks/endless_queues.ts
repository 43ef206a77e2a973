/**
 * Attack 12 (not in issue 9), endless queues: one connection sets a small item to each of 2 x M
 * new names (q0, q1, ...), pipelined 1,000 per write, on a server with `max_queues = M`. Each set
 * to a new name makes a queue and its journal file: the one cost a client drives whose only bound
 * is max_queues. The sets past it must be refused (`SERVER_ERROR too many queues: ...`) with
 * nothing done, the queues served must stay at M, memory at M queues' worth, and a name must be
 * free again once a queue is deleted.
 *
 * Ceiling: before + M x (10 KiB per queue with its journal + 100 B + 256 B for its item) + 128 KiB.
 * Other bounds: queues served (queue_creates - queue_deletes) = M; sets refused, as counted by the
 * client and by queue_creates_refused; a set to a new name after a delete is stored.
 * Knobs: ATTACK_MAX_QUEUES (M, default 10000, quick 2000).
 */
import { AttackClient } from "../lib/attack_client.ts";
import { CONNECTION_ALLOWANCE, ITEM_ALLOWANCE, JOURNALED_QUEUE_ALLOWANCE, ceiling } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { integer } from "../lib/report.ts";

const ITEM_BYTES = 100;
const BATCH = 1000;
const REFUSAL = "SERVER_ERROR too many queues: ";

export const endlessQueues: AttackPlan = (knobs) => {
  const maxQueues = knobs.count("ATTACK_MAX_QUEUES", 10_000, 2000);
  const parameters = `sets of ${ITEM_BYTES} B to ${integer(2 * maxQueues)} new names with max_queues = ${integer(maxQueues)}`;
  return {
    title: "12. endless queues",
    parameters,
    // A journal per queue: a header and one record, in a 4 KiB block.
    diskBytes: maxQueues * 4096,
    run: () => withLab("endless queues", `max_queues = ${maxQueues}\n`, (lab) => attack(lab, maxQueues, parameters)),
  };
};

async function attack(lab: Lab, maxQueues: number, parameters: string) {
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port);
  const item = Buffer.alloc(ITEM_BYTES, "e");
  const tail = Buffer.from("\r\n");
  const sets = 2 * maxQueues;
  let stored = 0;
  let refused = 0;
  const unexpected: string[] = [];
  for (let first = 0; first < sets; first += BATCH) {
    const size = Math.min(BATCH, sets - first);
    const parts = Array.from({ length: size }, (_, i) => [Buffer.from(`set q${first + i} 0 0 ${ITEM_BYTES}\r\n`), item, tail]).flat();
    for (const reply of await client.request(Buffer.concat(parts), size, 120_000)) {
      if (reply.kind === "stored") stored++;
      else if (reply.detail.startsWith(REFUSAL)) refused++;
      else if (unexpected.length < 3) unexpected.push(`${reply.kind} ${reply.detail}`.trim());
    }
  }
  const stats = await lab.stats();
  const served = (stats.get("queue_creates") ?? NaN) - (stats.get("queue_deletes") ?? NaN);
  const counted = stats.get("queue_creates_refused") ?? NaN;
  // One deleted queue frees a place for one new name.
  const [deleted] = await client.request("delete q0\r\n");
  const [afterDelete] = await client.request(`set fresh 0 0 ${ITEM_BYTES}\r\n${item}\r\n`);
  client.close();
  const during = await window.end();
  const after = await lab.settle();

  lab.bound("queues served", integer(served), `= max_queues (${integer(maxQueues)})`, served === maxQueues);
  lab.bound("sets refused (client / queue_creates_refused)", `${integer(refused)} / ${integer(counted)}`, `= the ${integer(sets - stored)} not stored`, refused === sets - stored && counted === refused);
  lab.bound("a set to a new name after a delete", `${deleted?.detail || deleted?.kind}, then ${afterDelete?.kind}`, "DELETED, then stored", deleted?.detail === "DELETED" && afterDelete?.kind === "stored");
  const incorrect = unexpected.map((reply) => `unexpected reply to a set: ${reply}`);
  return lab.result({
    name: "12. endless queues",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      [maxQueues * (JOURNALED_QUEUE_ALLOWANCE + ITEM_BYTES + ITEM_ALLOWANCE), `${integer(maxQueues)} × (10 KiB per queue with its journal + ${ITEM_BYTES} B + 256 B for its item)`],
      [CONNECTION_ALLOWANCE, "128 KiB per connection"],
    ]),
    incorrect,
  });
}
