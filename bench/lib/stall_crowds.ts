/**
 * The stall benchmark's scenario 10: a crowd of clients blocked in a get on one queue, all ended
 * at once. 10a: BENCH_BLOCKED_CLIENTS clients in `get q/peek/t=60000`, woken by one set (a peek
 * leaves the item for the next: one item wakes them all). 10b: as many in `get q/t=3000` on an
 * empty queue, whose waits all end about the same moment. The clients are a load process's
 * (blocked_load.ts); the probe starts once the server counts every one of them waiting and ends
 * TAIL_MS after it counts none, while the clients hold their connections open a while longer: it
 * sees the crowd ended, not the crowd connecting or closing (each is an event of its own).
 */
import { waitFor } from "./client.ts";
import type { LoadResult } from "./load_process.ts";
import { integer } from "./report.ts";
import { type Scene, playScene } from "./stall_scene.ts";
import type { Scenario, StallSettings } from "./stall_scenarios.ts";

const QUEUE = "q";
/** The blocked timeouts of 10b: long enough for the probe to start before they end. */
const TIMEOUT_MS = 3000;
/** How long 10a's clients wait, once all are waiting, before the set: the probe's quiet lead. */
const SET_AFTER_MS = 1000;
/** The probe goes on this long after the last wait ended. */
const TAIL_MS = 500;
/** The clients keep their connections this long after their last answer: past the probe's end. */
const HOLD_MS = 3000;
const UNTIL_WAITING_MS = 120_000;

/** Waits until the server counts `clients` waiters on the queue; throws if `load` ends first (it failed). */
async function untilAllWait(scene: Scene, load: Promise<LoadResult>, clients: number): Promise<void> {
  let ended = false;
  void load.then(
    () => (ended = true),
    () => (ended = true),
  );
  const stat = `queue_${QUEUE}_waiters`;
  const outcome = await waitFor(`${integer(clients)} clients waiting on '${QUEUE}'`, UNTIL_WAITING_MS, async () =>
    ended ? "ended" : (await scene.stats()).get(stat) === clients ? "waiting" : null,
  );
  if (outcome === "ended") {
    await load;
    throw new Error("the blocked clients' load ended before they were all waiting");
  }
}

/** Probes the server from the moment every client waits until `TAIL_MS` after none does; then waits for the clients' load. */
async function probeCrowd(scene: Scene, s: StallSettings, load: Promise<LoadResult>) {
  await untilAllWait(scene, load, s.blockedClients);
  const stat = `queue_${QUEUE}_waiters`;
  const { ping } = await scene.probe(async () => {
    await waitFor(`no client waiting on '${QUEUE}'`, UNTIL_WAITING_MS, async () => ((await scene.stats()).get(stat) === 0 ? true : null));
    await Bun.sleep(TAIL_MS);
  });
  const value = await load;
  if (value.items !== s.blockedClients) scene.problems.push(`${integer(value.items)} of ${integer(s.blockedClients)} blocked clients answered`);
  return { ping, value };
}

export const blockedCrowds: Scenario = {
  id: 10,
  run: async (s) => {
    const clients = integer(s.blockedClients);
    return [
      await playScene("10a", `${clients} blocked peeks woken by one set`, "", s, async (scene) => {
        const get = `get ${QUEUE}/peek/t=60000`;
        const load = scene.blocked({ queue: QUEUE, itemSize: s.itemSize, clients: s.blockedClients, get, setAfterMs: SET_AFTER_MS, expect: "hit", holdMs: HOLD_MS });
        const { ping, value } = await probeCrowd(scene, s, load);
        await scene.expectStat(`queue_${QUEUE}_items`, 1);
        return { done: `${clients} clients blocked in \`${get}\` on one queue, then one set; probe from ${SET_AFTER_MS / 1000} s before it to ${TAIL_MS / 1000} s after the last wait ended`, ping, figure: `all answered the item ${value.ms.toFixed(0)} ms after the set` };
      }),
      await playScene("10b", `${clients} blocked gets time out together`, "", s, async (scene) => {
        const get = `get ${QUEUE}/t=${TIMEOUT_MS}`;
        const load = scene.blocked({ queue: QUEUE, itemSize: s.itemSize, clients: s.blockedClients, get, setAfterMs: null, expect: "miss", holdMs: HOLD_MS });
        const { ping, value } = await probeCrowd(scene, s, load);
        return { done: `${clients} clients sent \`${get}\` at once on an empty queue; probe from when all wait to ${TAIL_MS / 1000} s after the last wait ended`, ping, figure: `all answered END, the first to the last in ${value.ms.toFixed(0)} ms` };
      }),
    ];
  },
};
