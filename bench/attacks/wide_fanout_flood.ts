/**
 * Attack 17 (found by a hostile-client probe, not in issue 9), a flood of noreply sets to a wide
 * fanout: 1,001 fanout children of `wide` made by gets (100 new names each), then one connection
 * pipelines `set wide 0 0 10 noreply` for T seconds, as fast as the server reads them, and resets
 * the connection (a plain close lets the server run every set still in its socket buffers, a few
 * a second each: minutes of them, and the children's counts were read while it still ran).
 * A set to a parent with over 1,000 children is copied to them over turns, its copies waiting in
 * memory; the connection went on with its next request at once, so a million sets were queued in
 * 22 s (680 MiB and growing, and a clean stop had to make every copy first). The connection now
 * waits for its set's copies: the flood is held back by TCP.
 *
 * Ceiling: before (the children made) + the items the queues hold (counted once it settled) x
 * (10 B + 256 B) + 1 MiB of requests buffered while waiting + 512
 * KiB of socket read + 128 KiB. Other bounds: the sets the server ran (the parent's items) against
 * those sent, and every child holding as many items as the parent once the copies are through.
 * Knobs: ATTACK_WIDE_FLOOD_SECONDS (T, default 10, quick 3).
 */
import { BUFFERED_WHILE_WAITING, CONNECTION_ALLOWANCE, ITEM_ALLOWANCE, MAX_NEW_QUEUES, SOCKET_READ, ceiling } from "../lib/attack_bounds.ts";
import { AttackClient } from "../lib/attack_client.ts";
import { type Lab, whenStill, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { integer } from "../lib/report.ts";

const CHILDREN = 1001;
const ITEM_BYTES = 10;
const SET = `set wide 0 0 ${ITEM_BYTES} noreply\r\n${"w".repeat(ITEM_BYTES)}\r\n`;
const BATCH = 10_000;
/** Bytes the client lets wait in its own socket writer before it waits for the server to read. */
const CLIENT_PENDING = 1024 * 1024;
/** How long the children's counts must stay the same to count as through, and the most to wait. */
const STILL_MS = 2000;
const SETTLE_MAX_MS = 120_000;

export const wideFanoutFlood: AttackPlan = (knobs) => {
  const seconds = knobs.count("ATTACK_WIDE_FLOOD_SECONDS", 10, 3);
  const parameters = `${integer(CHILDREN)} children made by \`get wide+c<n>\`; \`set wide 0 0 ${ITEM_BYTES} noreply\` pipelined for ${seconds} s, then the connection is reset`;
  // What the server copies in that time: a few hundred sets a second to 1,002 journals.
  return { title: "17. wide fanout flood", parameters, diskBytes: seconds * 500 * (CHILDREN + 1) * 60, run: () => withLab("wide fanout flood", "", (lab) => attack(lab, seconds, parameters)) };
};

async function attack(lab: Lab, seconds: number, parameters: string) {
  const client = await AttackClient.connect(lab.port);
  for (let first = 0; first < CHILDREN; first += MAX_NEW_QUEUES) {
    const names = Array.from({ length: Math.min(MAX_NEW_QUEUES, CHILDREN - first) }, (_, i) => `wide+c${first + i}`);
    await client.request(`get ${names.join(" ")}\r\n`, 1, 60_000);
  }
  const window = await lab.beginAttack();
  const batch = Buffer.from(SET.repeat(BATCH), "latin1");
  let sent = 0;
  const ends = performance.now() + seconds * 1000;
  while (performance.now() < ends && client.closedBy === null) {
    if (sent * SET.length - client.bytesSent > CLIENT_PENDING) {
      await Bun.sleep(10);
      continue;
    }
    client.send(batch);
    sent += BATCH;
  }
  const delivered = Math.floor(client.bytesSent / SET.length);
  client.abort();
  const items = async () => {
    const stats = await lab.stats();
    return [stats.get("queue_wide_items") ?? NaN, stats.get("queue_wide+c0_items") ?? NaN, stats.get(`queue_wide+c${CHILDREN - 1}_items`) ?? NaN] as const;
  };
  await whenStill(async () => (await items()).reduce((sum, n) => sum + n, 0), STILL_MS, SETTLE_MAX_MS);
  const during = await window.end();
  const after = await lab.settle();
  const [parent, first, last] = await items();

  lab.bound("sets run (the parent's items) / sent", `${integer(parent)} / ${integer(delivered)}`, "-", null);
  lab.bound("items of the first and last child once through", `${integer(first)}, ${integer(last)}`, `= the parent's ${integer(parent)}`, first === parent && last === parent);
  const held = parent * (CHILDREN + 1);
  return lab.result({
    name: "17. wide fanout flood",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      [held * (ITEM_BYTES + ITEM_ALLOWANCE), `${integer(held)} items held × (${ITEM_BYTES} B + 256 B)`],
      [BUFFERED_WHILE_WAITING + SOCKET_READ + CONNECTION_ALLOWANCE, "1 MiB of requests buffered while waiting + 512 KiB socket read + 128 KiB"],
    ]),
    incorrect: [],
  });
}
