/**
 * Attack 14 (found by a hostile-client probe, not in issue 9), small items kept between another
 * queue's traffic: R rounds (bench/lib/slab_pin.ts) of 64 KiB of 100-byte sets to `churn`, which
 * keeps none of them for long (`max_items = 10`, `discard_old_when_full`), and a set of a 1-byte
 * item to `keep`, which keeps them all. Small items share 64 KiB slabs in the order they arrive,
 * so each kept byte could hold the slab it landed in (8,000 rounds: 578 MiB resident before the
 * slabs' survivors were moved out).
 *
 * Ceiling: before + R x (1 B + 256 B) per kept item + 10 x (100 B + 256 B) for churn's items +
 * the waste the buffers holding items may keep (4 MiB + half the items' bytes) + 128 KiB.
 * Other bounds: keep's items and bytes in memory, item_buffer_bytes against item_live_bytes
 * (the server's own count of what the buffers hold), the RSS after ordinary traffic.
 * Knobs: ATTACK_SLAB_ROUNDS (R, default 8000, quick 2000; shared with attack 15).
 */
import { ITEM_ALLOWANCE } from "../lib/attack_bounds.ts";
import { AttackClient } from "../lib/attack_client.ts";
import { type Lab, TRAFFIC_MIB, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { integer, mib } from "../lib/report.ts";
import { CHURN_CONFIG, CHURN_ITEM_BYTES, CHURN_KEPT, CHURN_PER_ROUND, KEPT_ITEM, SET_KEPT, bufferBounds, pinCeiling, pinRounds } from "../lib/slab_pin.ts";

export const smallItemsKept: AttackPlan = (knobs) => {
  const rounds = knobs.count("ATTACK_SLAB_ROUNDS", 8000, 2000);
  const parameters = `${integer(rounds)} rounds of ${CHURN_PER_ROUND} × ${CHURN_ITEM_BYTES} B sets to churn (max_items = ${CHURN_KEPT}, discard_old_when_full) and a ${KEPT_ITEM.length} B set to keep`;
  return {
    title: "14. small items kept",
    parameters,
    diskBytes: rounds * 64,
    run: () => withLab("small items kept", CHURN_CONFIG, (lab) => attack(lab, rounds, parameters)),
  };
};

async function attack(lab: Lab, rounds: number, parameters: string) {
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port);
  await pinRounds(client, rounds, SET_KEPT, ["stored"]);
  client.close();
  const during = await window.end();
  const { after, stats, afterTraffic, roundTrip } = await lab.aftermath();

  const keptBytes = rounds * KEPT_ITEM.length;
  lab.bound("keep's items in memory", `${integer(stats.get("queue_keep_mem_items") ?? NaN)} (${integer(stats.get("queue_keep_mem_bytes") ?? NaN)} B)`, `${integer(rounds)} (${integer(keptBytes)} B)`, stats.get("queue_keep_mem_bytes") === keptBytes);
  bufferBounds(lab, stats, "once settled");
  lab.bound(`RSS after ${TRAFFIC_MIB} MiB of other traffic`, mib(afterTraffic), "-", null);
  const incorrect = [stats.get("queue_keep_items") === rounds ? null : `keep holds ${stats.get("queue_keep_items")} items, expected ${rounds}`, roundTrip];
  return lab.result({
    name: "14. small items kept",
    parameters,
    during,
    after,
    ceiling: pinCeiling(during.before, rounds, ITEM_ALLOWANCE, "per kept item"),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
