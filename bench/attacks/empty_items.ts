/**
 * Attack 16 (found by a hostile-client probe, not in issue 9), empty items: one connection
 * pipelines E `set q 0 0 0 noreply` (an item of no bytes), 10,000 to a write, each write followed
 * by a `version` it waits for (100,000 to a write peaked 218 MiB over before, 2 MiB over the
 * ceiling in one run of two: the garbage of 10 million requests at full speed, past the flood
 * term; the items kept are the same). An item counted only its bytes toward max_memory_size, so empty
 * items never sent the queue into read-behind: every one stayed in memory (about 55 B resident
 * each), 2.5 GiB at 5.4 million, with 10 s stalls. Each now counts 64 B besides its bytes.
 *
 * Ceiling: before + max_memory_size (128 MiB: the items kept in memory, 64 B each at most) + 2 MiB
 * read back at once + 128 KiB, as a flood (up to 64 MiB of garbage made at full speed).
 * Other bounds: the items in memory (at most 128 MiB / 64 B = 2,097,152), every item still
 * queued, the RSS after ordinary traffic.
 * Knobs: ATTACK_EMPTY_ITEMS (E, default 10000000, quick 2000000).
 */
import { CONNECTION_ALLOWANCE, DEFAULT_MAX_MEMORY_SIZE, ITEM_MEMORY_COST, READ_BACK_BUFFER, ceiling, size } from "../lib/attack_bounds.ts";
import { AttackClient } from "../lib/attack_client.ts";
import { type Lab, TRAFFIC_MIB, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { integer, mib } from "../lib/report.ts";

const SET = "set q 0 0 0 noreply\r\n\r\n";
const BATCH = 10_000;
/** An empty item's ADD record in the journal. */
const RECORD_BYTES = 38;

export const emptyItems: AttackPlan = (knobs) => {
  const items = knobs.count("ATTACK_EMPTY_ITEMS", 10_000_000, 2_000_000);
  const parameters = `${integer(items)} × \`set q 0 0 0 noreply\` on one connection, ${integer(BATCH)} to a write`;
  return { title: "16. empty items", parameters, diskBytes: items * RECORD_BYTES, run: () => withLab("empty items", "", (lab) => attack(lab, items, parameters)) };
};

async function attack(lab: Lab, items: number, parameters: string) {
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port);
  const batch = Buffer.from(SET.repeat(BATCH) + "version\r\n", "latin1");
  const unexpected: string[] = [];
  for (let sent = 0; sent < items; sent += BATCH) {
    const data = items - sent >= BATCH ? batch : Buffer.from(SET.repeat(items - sent) + "version\r\n", "latin1");
    const [reply] = await client.request(data, 1, 120_000);
    if (!reply?.detail.startsWith("VERSION ") && unexpected.length < 3) unexpected.push(`unexpected reply: ${reply?.kind} ${reply?.detail}`);
  }
  client.close();
  const during = await window.end();
  const { after, stats, afterTraffic, roundTrip } = await lab.aftermath();

  const inMemory = stats.get("queue_q_mem_items") ?? NaN;
  const most = Math.floor(DEFAULT_MAX_MEMORY_SIZE / ITEM_MEMORY_COST);
  lab.bound("items in memory", integer(inMemory), `≤ ${integer(most)} (128 MiB at 64 B each)`, inMemory <= most);
  lab.bound(`RSS after ${TRAFFIC_MIB} MiB of other traffic`, mib(afterTraffic), "-", null);
  const queued = stats.get("queue_q_items");
  const incorrect = [...unexpected, queued === items ? null : `q holds ${queued} items, expected ${items}`, roundTrip];
  return lab.result({
    name: "16. empty items",
    parameters,
    during,
    after,
    ceiling: ceiling(
      during.before,
      [
        [DEFAULT_MAX_MEMORY_SIZE, "128 MiB max_memory_size (items at 64 B each)"],
        [READ_BACK_BUFFER, `${size(READ_BACK_BUFFER)} read back at once`],
        [CONNECTION_ALLOWANCE, "128 KiB per connection"],
      ],
      "flood",
    ),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
