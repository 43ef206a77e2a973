/**
 * Attack 4, blocking gets that time out: G `get q/t=1` on the empty queue `q`, pipelined in
 * batches of 500 over C connections. A blocking get suspends its connection (one waiter per
 * connection at most) and a waiter that times out is freed at once, so memory and `waiters` stay
 * flat however many time out (issue 9 saw +306 MB never freed for 400,000).
 *
 * Ceiling: before + C x (1 MiB of requests buffered while waiting + 128 KiB). Other bounds: the
 * most waiters `stats` showed during the attack (no more than C), waiters after it (0), the RSS
 * after it and after some ordinary traffic.
 * Knobs: ATTACK_TIMED_OUT_GETS (G, default 400000, quick 40000), ATTACK_WAIT_CONNECTIONS (C,
 * default 16, quick 8).
 */
import { BUFFERED_WHILE_WAITING, CONNECTION_ALLOWANCE, ceiling } from "../lib/attack_bounds.ts";
import { type Lab, TRAFFIC_MIB, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { type AttackClient, connectMany } from "../lib/attack_client.ts";
import { integer, mib, secs } from "../lib/report.ts";

const BATCH = 500;
const STATS_EVERY_MS = 250;

export const timedOutGets: AttackPlan = (knobs) => {
  const gets = knobs.count("ATTACK_TIMED_OUT_GETS", 400_000, 40_000);
  const connections = knobs.count("ATTACK_WAIT_CONNECTIONS", 16, 8);
  const parameters = `${integer(gets)} × \`get q/t=1\` on an empty queue, batches of ${BATCH} over ${connections} connections`;
  return { title: "4. timed-out gets", parameters, diskBytes: 0, run: () => withLab("timed-out gets", "", (lab) => attack(lab, gets, connections, parameters)) };
};

/** Sends `count` timed-out gets on `client`, BATCH per write; returns how many did not answer END. */
async function waitOut(client: AttackClient, count: number): Promise<number> {
  let wrong = 0;
  for (let done = 0; done < count; done += BATCH) {
    const size = Math.min(BATCH, count - done);
    const replies = await client.request("get q/t=1\r\n".repeat(size), size, 120_000);
    wrong += replies.filter((reply) => reply.kind !== "miss").length;
  }
  return wrong;
}

async function attack(lab: Lab, gets: number, connections: number, parameters: string) {
  const waiters = async () => (await lab.stats()).get("queue_q_waiters") ?? 0;
  const window = await lab.beginAttack();
  const clients = await connectMany(lab.port, connections);
  let mostWaiters = 0;
  let running = true;
  const watching = (async () => {
    while (running) {
      mostWaiters = Math.max(mostWaiters, await waiters());
      await Bun.sleep(STATS_EVERY_MS);
    }
  })();
  const began = performance.now();
  const share = (i: number) => Math.floor(gets / connections) + (i < gets % connections ? 1 : 0);
  const wrong = (await Promise.all(clients.map((client, i) => waitOut(client, share(i))))).reduce((sum, n) => sum + n, 0);
  const elapsedMs = performance.now() - began;
  running = false;
  await watching;
  for (const client of clients) client.close();
  const during = await window.end();
  const after = await lab.settle();
  const waitersAfter = await waiters();
  const afterTraffic = await lab.rssAfterTraffic();
  const roundTrip = await lab.roundTrip();

  lab.bound("time for all the gets", `${secs(elapsedMs)} (${integer((gets * 1000) / elapsedMs)} gets/s)`, "-", null);
  lab.bound("most waiters during the attack (stats)", integer(mostWaiters), `≤ ${connections} (one per connection)`, mostWaiters <= connections);
  lab.bound("waiters after it", integer(waitersAfter), "0", waitersAfter === 0);
  lab.bound(`RSS after it, and after ${TRAFFIC_MIB} MiB of other traffic`, `${mib(after)}, ${mib(afterTraffic)}`, "-", null);
  const incorrect = [wrong === 0 ? null : `${integer(wrong)} gets answered something other than END`, roundTrip];
  return lab.result({
    name: "4. timed-out gets",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [[connections * (BUFFERED_WHILE_WAITING + CONNECTION_ALLOWANCE), `${connections} × (1 MiB requests buffered while waiting + 128 KiB)`]]),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
