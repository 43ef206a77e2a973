/**
 * Attack 5, many queues: Q queues of 3 small items each (100 bytes), set over one connection in
 * pipelined batches of 1,000. Journal files are opened when written and closed once idle, so
 * once the sets stop the server should hold no file per queue and a few KB per queue; a restart
 * on Q queues should be quick (issue 9 saw 1.6-2.5 GB, 5,009 open files and a 2.7 s restart for
 * 5,000; the promise is 10,000 queues in under 1 s).
 *
 * Ceiling: before + Q x (10 KiB per idle queue with its journal + 3 x (100 B + 256 B per item)) + 128 KiB.
 * Other bounds: open files once idle (no more than before), how long they took to close, the
 * restart (spawn to listening, from the server's log) and the RSS and items after it.
 * Knobs: ATTACK_QUEUES (Q, default 5000, quick 1000).
 */
import { CONNECTION_ALLOWANCE, ITEM_ALLOWANCE, JOURNALED_QUEUE_ALLOWANCE, START_10K_QUEUES_MS, ceiling } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { waitFor } from "../lib/client.ts";
import { AttackClient, setInBatches } from "../lib/attack_client.ts";
import { integer, mib, secs } from "../lib/report.ts";

const ITEMS_PER_QUEUE = 3;
const ITEM_BYTES = 100;
const BATCH = 1000;
/** Journal files not used for a round (1 s) are closed at the next: give them a few rounds. */
const IDLE_WAIT_MS = 15_000;
/** Descriptors the server may hold for this benchmark's own connections (the ping, a fresh probe, a stats request). */
const OWN_CONNECTIONS = 3;

export const manyQueues: AttackPlan = (knobs) => {
  const queues = knobs.count("ATTACK_QUEUES", 5000, 1000);
  const parameters = `${integer(queues)} queues × ${ITEMS_PER_QUEUE} items of ${ITEM_BYTES} B, then idle, then a restart`;
  return {
    title: "5. many queues",
    parameters,
    // A journal per queue: a header and three records, in a 4 KiB block.
    diskBytes: queues * 4096,
    run: () => withLab("many queues", "", (lab) => attack(lab, queues, parameters)),
  };
};

async function attack(lab: Lab, queues: number, parameters: string) {
  const descriptorsBefore = lab.server.openDescriptors();
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port);
  const item = Buffer.alloc(ITEM_BYTES, "s");
  await setInBatches(client, (n) => `q${n % queues}`, queues * ITEMS_PER_QUEUE, item, BATCH);
  client.close();
  const loadedAt = performance.now();
  const idle = await waitFor("idle journal files to close", IDLE_WAIT_MS, () => (lab.server.openDescriptors() <= descriptorsBefore + OWN_CONNECTIONS ? true : null)).catch(() => false);
  const closedMs = performance.now() - loadedAt;
  const descriptorsIdle = lab.server.openDescriptors();
  const during = await window.end();
  const after = await lab.settle();

  const restart = await lab.restart();
  await Bun.sleep(1000);
  const restarted = { rss: lab.server.memory().rss, items: (await lab.stats()).get("curr_items") ?? NaN };
  const roundTrip = await lab.roundTrip();

  const closeText = idle ? `${secs(closedMs)} after the last set` : `not within ${secs(IDLE_WAIT_MS)}`;
  lab.bound("open files once idle", `${descriptorsIdle} (${closeText})`, `≤ ${descriptorsBefore} before + ${OWN_CONNECTIONS} (the benchmark's connections)`, idle);
  lab.bound("RSS once idle, per queue", `${((after - during.before) / queues / 1024).toFixed(1)} KiB`, "-", null);
  lab.bound("SIGTERM → exit", secs(restart.stopMs), "-", null);
  lab.bound("restart: spawn → listening (server log)", secs(restart.startup.listeningMs), `< ${secs(START_10K_QUEUES_MS)} (10,000 queues)`, restart.startup.listeningMs < START_10K_QUEUES_MS);
  lab.bound("RSS 1 s after the restart", mib(restarted.rss), "-", null);
  const incorrect = [restarted.items === queues * ITEMS_PER_QUEUE ? null : `${restarted.items} items after the restart, expected ${queues * ITEMS_PER_QUEUE}`, roundTrip];
  const perQueue = JOURNALED_QUEUE_ALLOWANCE + ITEMS_PER_QUEUE * (ITEM_BYTES + ITEM_ALLOWANCE);
  return lab.result({
    name: "5. many queues",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      [queues * perQueue, `${integer(queues)} × (10 KiB per queue with its journal + ${ITEMS_PER_QUEUE} × (${ITEM_BYTES} B + 256 B) per item)`],
      [CONNECTION_ALLOWANCE, "128 KiB per connection"],
    ]),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
