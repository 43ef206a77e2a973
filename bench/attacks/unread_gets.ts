/**
 * Attack 2, gets whose replies are never read: queue `rb` holds N items of 1 MiB, all but the
 * first 16 MiB only on disk (max_memory_size = "16MiB"). C connections stop reading, then each
 * pipelines G gets of K keys (`get rb rb rb ...`, 400 keys). A get's reply takes no more items
 * once it holds 4 MiB, and the server stops reading a connection with 4 MiB of replies waiting,
 * so each connection should pin a few items, not the queue (issue 9 saw 0.4 GiB per connection).
 * Since issue 11 a key repeated in one get is served once, so each of these gets takes one item
 * (the keys are kept as issue 9 wrote them; test/integration/bounds.test.ts checks the 4 MiB
 * reply bound with distinct keys).
 *
 * Ceiling: before (which holds the queue's 16 MiB) + a 2 MiB read-back buffer + C x (4 MiB of
 * replies waiting + one get's reply, 4 MiB and the item that crosses it + 1 MiB of requests
 * buffered + 128 KiB).
 * Afterwards the attackers read everything they were sent (each item checked byte for byte) and
 * leave: the items they received plus those left in `rb` must be the N that were set.
 * Knobs: ATTACK_UNREAD_GETS (C, default 4, quick 2), ATTACK_UNREAD_ITEMS (N, default 400, quick 100).
 */
import { MiB, READ_BACK_BUFFER, ceiling, size, unreadReplies } from "../lib/attack_bounds.ts";
import { type Lab, whenStill, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { connectMany, readBack } from "../lib/attack_client.ts";
import { benchItem } from "../lib/protocol.ts";
import { integer, mib } from "../lib/report.ts";

const ITEM_BYTES = 1 * MiB;
const KEYS_PER_GET = 400;
const GETS_PER_CONNECTION = 50;
const MEMORY = 16 * MiB;
const HOLD_MS = 3000;

export const unreadGets: AttackPlan = (knobs) => {
  const connections = knobs.count("ATTACK_UNREAD_GETS", 4, 2);
  const items = knobs.count("ATTACK_UNREAD_ITEMS", 400, 100);
  const parameters = `${connections} connections never read, each pipelines ${GETS_PER_CONNECTION} × \`get rb ...\` of ${KEYS_PER_GET} keys; rb: ${items} × ${size(ITEM_BYTES)}, max_memory_size ${size(MEMORY)}`;
  return {
    title: "2. unread gets",
    parameters,
    diskBytes: items * ITEM_BYTES,
    run: () => withLab("unread gets", `max_memory_size = ${MEMORY}\n`, (lab) => attack(lab, connections, items, parameters)),
  };
};

async function attack(lab: Lab, connections: number, items: number, parameters: string) {
  const item = benchItem(ITEM_BYTES);
  const valueBlock = Buffer.concat([item, Buffer.from("\r\n")]);
  await lab.fill("rb", items, item);
  const window = await lab.beginAttack();
  const attackers = await connectMany(lab.port, connections, connections, valueBlock);
  const gets = `get ${Array(KEYS_PER_GET).fill("rb").join(" ")}\r\n`.repeat(GETS_PER_CONNECTION);
  for (const attacker of attackers) {
    attacker.pauseReading();
    attacker.send(gets);
  }
  // The attack is in place once the server stops taking items for them.
  const taken = items - (await whenStill(() => lab.queueItems("rb"), 2000, 60_000));
  await Bun.sleep(HOLD_MS);
  const stats = await lab.stats();
  const during = await window.end();

  const { values: received, wrong: incorrect } = await readBack(attackers, GETS_PER_CONNECTION);
  const after = await lab.settle();
  await lab.accountForItems("rb", items, received, incorrect);

  lab.bound("items taken for the unread replies", `${integer(taken)} (${mib(taken * ITEM_BYTES)})`, "-", null);
  lab.bound("rb's items in memory while held", mib(stats.get("queue_rb_mem_bytes") ?? NaN), `≤ ${size(MEMORY)} max_memory_size`, (stats.get("queue_rb_mem_bytes") ?? Infinity) <= MEMORY);
  return lab.result({
    name: "2. unread gets",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      [READ_BACK_BUFFER, `${size(READ_BACK_BUFFER)} read-back buffer`],
      unreadReplies(connections, ITEM_BYTES),
    ]),
    incorrect,
  });
}
