/**
 * Attack 8 (not in issue 9), reliable reads held open: queue `rb` holds N items of 1 MiB, all
 * but the first 16 MiB only on disk (max_memory_size = "16MiB"). C connections each take one
 * item with `get rb/open`, read the reply like a well-behaved client, and then never confirm nor
 * abort it, and never close. An open item is no longer in its queue, but until it is confirmed
 * the server must be able to give it back; where it keeps it, and whether max_memory_size or
 * anything else bounds that, is what this attack shows. When the clients leave, their items go
 * back to the head of `rb`.
 *
 * Ceiling: before (which holds the queue's 16 MiB) + a 2 MiB read-back buffer + C x (1 MiB open
 * item + 128 KiB): the item bytes a queue keeps in memory are bounded by max_memory_size, and
 * open items, outside it, by max_open_transactions (1) per queue per connection, each up to
 * max_item_size (docs/configuration.md, Memory bounds).
 * Other bounds: rb's items and bytes in memory while the items are open and once they are back
 * (max_memory_size), every item back in rb, the RSS after some ordinary traffic.
 * Knobs: ATTACK_OPEN_ITEMS (C, default 300, quick 50), ATTACK_UNREAD_ITEMS (N, shared with attack 2).
 */
import { CONNECTION_ALLOWANCE, MiB, READ_BACK_BUFFER, ceiling, per, size } from "../lib/attack_bounds.ts";
import { type Lab, TRAFFIC_MIB, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { connectMany } from "../lib/attack_client.ts";
import { benchItem } from "../lib/protocol.ts";
import { integer, mib } from "../lib/report.ts";

const ITEM_BYTES = 1 * MiB;
const MEMORY = 16 * MiB;
const HOLD_MS = 3000;

export const openItems: AttackPlan = (knobs) => {
  const connections = knobs.count("ATTACK_OPEN_ITEMS", 300, 50);
  const items = Math.max(knobs.count("ATTACK_UNREAD_ITEMS", 400, 100), connections);
  const parameters = `${connections} connections each hold an open \`get rb/open\` of ${size(ITEM_BYTES)}; rb: ${items} × ${size(ITEM_BYTES)}, max_memory_size ${size(MEMORY)}`;
  return {
    title: "8. open items",
    parameters,
    diskBytes: items * ITEM_BYTES,
    run: () => withLab("open items", `max_memory_size = ${MEMORY}\n`, (lab) => attack(lab, connections, items, parameters)),
  };
};

async function attack(lab: Lab, connections: number, items: number, parameters: string) {
  const item = benchItem(ITEM_BYTES);
  await lab.fill("rb", items, item);
  const window = await lab.beginAttack();
  const holders = await connectMany(lab.port, connections, 100, Buffer.concat([item, Buffer.from("\r\n")]));
  const replies = (await Promise.all(holders.map((holder) => holder.request("get rb/open\r\n", 1, 120_000)))).flat();
  await Bun.sleep(HOLD_MS);
  const held = await lab.stats();
  const during = await window.end();
  for (const holder of holders) holder.close();
  const { after, stats: back, afterTraffic, roundTrip } = await lab.aftermath();

  const stat = (stats: Map<string, number>, name: string) => stats.get(`queue_rb_${name}`) ?? NaN;
  const memory = (stats: Map<string, number>) => `${mib(stat(stats, "mem_bytes"))} (${integer(stat(stats, "mem_items"))} items)`;
  lab.bound("open_transactions while held", integer(stat(held, "open_transactions")), integer(connections), stat(held, "open_transactions") === connections);
  lab.bound("rb's items in memory while held", memory(held), `≤ ${size(MEMORY)} max_memory_size`, stat(held, "mem_bytes") <= MEMORY);
  lab.bound("rb's items in memory once they are back", memory(back), `≤ ${size(MEMORY)} max_memory_size`, stat(back, "mem_bytes") <= MEMORY);
  lab.bound(`RSS once they are back, after ${TRAFFIC_MIB} MiB of other traffic`, mib(afterTraffic), "-", null);
  const hits = replies.filter((reply) => reply.kind === "hit").length;
  const incorrect = [
    hits === connections ? null : `${connections - hits} of the ${connections} opens got no intact item`,
    stat(back, "items") === items ? null : `rb holds ${stat(back, "items")} items once the holders left, expected ${items}`,
    roundTrip,
  ];
  return lab.result({
    name: "8. open items",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      [READ_BACK_BUFFER, `${size(READ_BACK_BUFFER)} read-back buffer`],
      per(connections, ITEM_BYTES, "open item per connection"),
      per(connections, CONNECTION_ALLOWANCE, "per connection"),
    ]),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
