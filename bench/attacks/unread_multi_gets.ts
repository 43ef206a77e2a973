/**
 * Attack 11 (not in issue 9), many clients that pipeline huge multi-gets and never read: queue
 * `m` holds N items of 4 KiB, all in memory. C connections stop reading, then each pipelines G
 * get lines as long as the line limit allows (`get m m m ...`, about 4,000 keys, 16 MiB of items
 * asked for per line). Each get's reply stops taking items at 4 MiB and a connection with 4 MiB
 * of replies waiting is not read, so each pins a few MiB; together they may take the whole
 * queue, whose items then sit in unread replies instead of in the queue. Since issue 11 a key
 * repeated in one get is served once: each line takes one item, and what is left of the attack is
 * 200 clients sending the longest lines the server reads.
 *
 * Ceiling (the documented bounds): before (which holds the queue) + C x (4 MiB replies waiting +
 * 4 MiB and one item for one get's reply + 1 MiB requests buffered + 128 KiB).
 * Afterwards the clients read all they were sent (each item checked) and leave: the items they
 * received plus those left in `m` must be the N that were set.
 * Knobs: ATTACK_MULTI_GETS (C, default 200, quick 50), ATTACK_MULTI_GET_ITEMS (N, default 40000, quick 10000).
 */
import { connectMany, readBack } from "../lib/attack_client.ts";
import { KiB, ceiling, size, unreadReplies } from "../lib/attack_bounds.ts";
import { type Lab, whenStill, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { benchItem } from "../lib/protocol.ts";
import { integer, mib } from "../lib/report.ts";

const ITEM_BYTES = 4 * KiB;
/** `get` and this many ` m`: 8,004 bytes, under the 8,192-byte line limit. */
const KEYS_PER_GET = 4000;
const GETS_PER_CONNECTION = 10;
const HOLD_MS = 3000;

export const unreadMultiGets: AttackPlan = (knobs) => {
  const connections = knobs.count("ATTACK_MULTI_GETS", 200, 50);
  const items = knobs.count("ATTACK_MULTI_GET_ITEMS", 40_000, 10_000);
  const parameters = `${connections} connections never read, each pipelines ${GETS_PER_CONNECTION} × \`get m ...\` of ${integer(KEYS_PER_GET)} keys; m: ${integer(items)} × ${size(ITEM_BYTES)}`;
  return {
    title: "11. unread multi-gets",
    parameters,
    diskBytes: items * (ITEM_BYTES + 64),
    run: () => withLab("unread multi-gets", "", (lab) => attack(lab, connections, items, parameters)),
  };
};

async function attack(lab: Lab, connections: number, items: number, parameters: string) {
  const item = benchItem(ITEM_BYTES);
  await lab.fill("m", items, item);
  const window = await lab.beginAttack();
  const attackers = await connectMany(lab.port, connections, 100, Buffer.concat([item, Buffer.from("\r\n")]));
  const gets = `get${" m".repeat(KEYS_PER_GET)}\r\n`.repeat(GETS_PER_CONNECTION);
  for (const attacker of attackers) {
    attacker.pauseReading();
    attacker.send(gets);
  }
  const taken = items - (await whenStill(() => lab.queueItems("m"), 2000, 60_000));
  await Bun.sleep(HOLD_MS);
  const held = lab.server.memory().rss;

  const { values: received, wrong: incorrect } = await readBack(attackers, GETS_PER_CONNECTION);
  const after = await lab.settle();
  const during = await window.end();
  await lab.accountForItems("m", items, received, incorrect);

  lab.bound("items taken for the unread replies", `${integer(taken)} (${mib(taken * ITEM_BYTES)})`, "-", null);
  lab.bound("RSS while held, over before", mib(held - during.before), "-", null);
  return lab.result({
    name: "11. unread multi-gets",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [unreadReplies(connections, ITEM_BYTES)]),
    incorrect,
  });
}
