/**
 * Attack 3, gets of new names: one connection sends gets of Q names that don't exist, 100 names
 * per get (the most one get may create), then one get of 150 new names (refused with
 * CLIENT_ERROR, creating none), then a delete of each of the Q queues. An idle queue costs a few
 * KB and no file (a get-made queue has none until an item is set); a deleted one, nothing (issue 9
 * saw 6.5 GiB and 15,000 files for 15,000 names, not returned after the deletes).
 *
 * Ceiling: before + Q x 8 KiB per idle queue + 128 KiB. Other bounds: open files and files in
 * the data dir with the Q queues (no more than before), RSS with them, RSS and open files once
 * they are deleted, the CLIENT_ERROR, no queue left.
 * Knobs: ATTACK_NEW_NAMES (Q, default 15000, quick 3000).
 */
import { CONNECTION_ALLOWANCE, MAX_NEW_QUEUES, QUEUE_ALLOWANCE, ceiling, per } from "../lib/attack_bounds.ts";
import { type Lab, TRAFFIC_MIB, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { diskUsage } from "../lib/disk.ts";
import { AttackClient, expectAll, getsOfNewNames } from "../lib/attack_client.ts";
import { PING_QUEUE } from "../lib/ping.ts";
import { integer, mib } from "../lib/report.ts";

const REFUSED_NAMES = 150;
/** Descriptors the server may hold for this benchmark's own connections (the client, the ping, a fresh probe, a stats request). */
const OWN_CONNECTIONS = 4;

export const newNames: AttackPlan = (knobs) => {
  const names = knobs.count("ATTACK_NEW_NAMES", 15_000, 3000);
  const parameters = `gets of ${integer(names)} new names, ${MAX_NEW_QUEUES} per get, one of ${REFUSED_NAMES}; then a delete of each`;
  return { title: "3. new names", parameters, diskBytes: 0, run: () => withLab("new names", "", (lab) => attack(lab, names, parameters)) };
};

/** How many queues `stats` lists, besides the probe's ping queue. */
async function queueCount(lab: Lab): Promise<number> {
  return [...(await lab.stats()).keys()].filter((name) => /^queue_.+_logsize$/.test(name) && name !== `queue_${PING_QUEUE}_logsize`).length;
}

async function attack(lab: Lab, names: number, parameters: string) {
  const name = (n: number) => `n${n}`;
  const filesBefore = diskUsage(lab.dataDir).files;
  const descriptorsBefore = lab.server.openDescriptors();
  const window = await lab.beginAttack();
  const client = await AttackClient.connect(lab.port);
  const incorrect: string[] = [];
  const created = await expectAll(client, getsOfNewNames(Array.from({ length: names }, (_, n) => name(n))), "END");
  if (created !== null) incorrect.push(`gets of new names: ${created}`);
  const [refused] = await client.request(`get ${Array.from({ length: REFUSED_NAMES }, (_, i) => `refused${i}`).join(" ")}\r\n`);
  const withQueues = { peak: window.peakSoFar(), rss: lab.server.memory().rss, descriptors: lab.server.openDescriptors(), files: diskUsage(lab.dataDir).files, queues: await queueCount(lab) };

  const deleted = await expectAll(client, Array.from({ length: names }, (_, n) => `delete ${name(n)}\r\n`), "DELETED");
  if (deleted !== null) incorrect.push(`deletes: ${deleted}`);
  client.close();
  const during = await window.end();
  const after = await lab.settle();
  const left = await queueCount(lab);
  const descriptorsAfter = lab.server.openDescriptors();
  const roundTrip = await lab.roundTrip();
  if (roundTrip !== null) incorrect.push(roundTrip);
  const afterTraffic = await lab.rssAfterTraffic();

  const refusedText = refused!.detail;
  lab.bound(`get of ${REFUSED_NAMES} new names`, refusedText, "CLIENT_ERROR, creating none", refusedText.startsWith("CLIENT_ERROR") && withQueues.queues === names);
  lab.bound(`queues after the gets`, integer(withQueues.queues), integer(names), withQueues.queues === names);
  lab.bound(`RSS with ${integer(names)} idle queues`, `${mib(withQueues.rss)} (${((withQueues.rss - during.before) / names / 1024).toFixed(1)} KiB a queue)`, `≤ before + ${integer(names)} × 8 KiB = ${mib(during.before + names * QUEUE_ALLOWANCE)}`, withQueues.rss <= during.before + names * QUEUE_ALLOWANCE);
  const descriptorBound = `≤ ${descriptorsBefore} before + ${OWN_CONNECTIONS} (the benchmark's connections)`;
  lab.bound("open files with the queues", `${withQueues.descriptors}`, descriptorBound, withQueues.descriptors <= descriptorsBefore + OWN_CONNECTIONS);
  lab.bound("files in the data dir with the queues", `${withQueues.files} (before: ${filesBefore})`, "no more than before", withQueues.files <= filesBefore);
  lab.bound("peak RSS while the gets created the queues", mib(withQueues.peak), "-", null);
  lab.bound("RSS once deleted", `${mib(after)} (before: ${mib(during.before)})`, "-", null);
  lab.bound(`RSS once deleted, after ${TRAFFIC_MIB} MiB of other traffic`, mib(afterTraffic), "-", null);
  lab.bound("open files once deleted", `${descriptorsAfter}`, descriptorBound, descriptorsAfter <= descriptorsBefore + OWN_CONNECTIONS);
  lab.bound("queues left after the deletes", integer(left), "0", left === 0);
  return lab.result({
    name: "3. new names",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [per(names, QUEUE_ALLOWANCE, "per idle queue"), [CONNECTION_ALLOWANCE, "128 KiB per connection"]]),
    incorrect,
  });
}
