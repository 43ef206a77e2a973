/**
 * Attack 15 (not in issue 9), open items pin slabs: attack 14's rounds (bench/lib/slab_pin.ts),
 * but the 1-byte item set to `keep` is opened at once (`get keep/open`) and never closed, so it
 * waits in no queue: it is held by the connection, outside the queue's item list. keep allows
 * R open items per connection (`max_open_transactions`; with the default of 1 the same takes R
 * queues or R connections). An open item's bytes could hold the whole 64 KiB slab they are in,
 * unseen by the moving of survivors out of emptied slabs, which looked only at queued items.
 * When the client leaves, its items go back to keep.
 *
 * Ceiling: before + R x (1 B + 256 B) per open item + 10 x (100 B + 256 B) for churn's items +
 * the waste the buffers holding items may keep (4 MiB + half the items' bytes) + 128 KiB.
 * Other bounds: open_transactions while held, item_buffer_bytes against item_live_bytes while
 * held, every item back in keep once the client left, the RSS after ordinary traffic.
 * Knobs: ATTACK_SLAB_ROUNDS (R, default 8000, quick 2000; shared with attack 14).
 */
import { OPEN_ITEM_ALLOWANCE } from "../lib/attack_bounds.ts";
import { AttackClient } from "../lib/attack_client.ts";
import { type Lab, TRAFFIC_MIB, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { integer, mib } from "../lib/report.ts";
import { CHURN_CONFIG, CHURN_ITEM_BYTES, CHURN_KEPT, CHURN_PER_ROUND, KEPT_ITEM, KEPT_VALUE_BLOCK, SET_KEPT, bufferBounds, pinCeiling, pinRounds } from "../lib/slab_pin.ts";

/** Open items one connection may hold on keep: more than any round count asked for. */
const MAX_OPEN = 100_000;

export const openSmallItems: AttackPlan = (knobs) => {
  const rounds = Math.min(knobs.count("ATTACK_SLAB_ROUNDS", 8000, 2000), MAX_OPEN);
  const parameters = `${integer(rounds)} rounds of ${CHURN_PER_ROUND} × ${CHURN_ITEM_BYTES} B sets to churn (max_items = ${CHURN_KEPT}, discard_old_when_full), a ${KEPT_ITEM.length} B set to keep and a \`get keep/open\` never closed`;
  return {
    title: "15. open items pin slabs",
    parameters,
    diskBytes: rounds * 64,
    run: () => withLab("open small items", `${CHURN_CONFIG}[queues.keep]\nmax_open_transactions = ${MAX_OPEN}\n`, (lab) => attack(lab, rounds, parameters)),
  };
};

async function attack(lab: Lab, rounds: number, parameters: string) {
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port, KEPT_VALUE_BLOCK);
  await pinRounds(client, rounds, `${SET_KEPT}get keep/open\r\n`, ["stored", "hit"]);
  const held = await lab.stats();
  const during = await window.end();
  client.close();
  const { after, stats: back, afterTraffic, roundTrip } = await lab.aftermath();

  lab.bound("open_transactions while held", integer(held.get("queue_keep_open_transactions") ?? NaN), integer(rounds), held.get("queue_keep_open_transactions") === rounds);
  bufferBounds(lab, held, "while held");
  lab.bound(`RSS once the items are back, after ${TRAFFIC_MIB} MiB of other traffic`, mib(afterTraffic), "-", null);
  const incorrect = [back.get("queue_keep_items") === rounds ? null : `keep holds ${back.get("queue_keep_items")} items once the client left, expected ${rounds}`, roundTrip];
  return lab.result({
    name: "15. open items pin slabs",
    parameters,
    during,
    after,
    ceiling: pinCeiling(during.before, rounds, OPEN_ITEM_ALLOWANCE, "per open item"),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
