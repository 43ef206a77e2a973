/**
 * Attack 7, idle connections: N connections opened (500 at a time) and left idle for a few
 * seconds. Both this process and the server need N descriptors and more: where their limits are
 * lower, they are raised with prlimit (which needs root or CAP_SYS_RESOURCE); where that fails,
 * N is lowered to fit, with a note (issue 9 saw 96 MB for 19,500).
 *
 * Ceiling: before + N x 128 KiB. Other bounds: the connections `stats` counts, the RSS per
 * connection, the time to open them.
 * Knobs: ATTACK_IDLE_CONNECTIONS (N, default 19500, quick 2000).
 */
import { CONNECTION_ALLOWANCE, ceiling, per } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { connectMany } from "../lib/attack_client.ts";
import { raiseDescriptorLimit } from "../lib/process_readings.ts";
import { integer, secs } from "../lib/report.ts";

const HOLD_MS = 3000;
/** Descriptors besides the connections: journals, pipes, the probe, the runtime's own. */
const DESCRIPTOR_MARGIN = 500;

export const idleConnections: AttackPlan = (knobs) => {
  const connections = knobs.count("ATTACK_IDLE_CONNECTIONS", 19_500, 2000);
  const parameters = `${integer(connections)} idle connections`;
  return { title: "7. idle connections", parameters, diskBytes: 0, run: () => withLab("idle connections", "", (lab) => attack(lab, connections, parameters)) };
};

/** Raises both processes' limits for `wanted` connections; returns how many fit. */
function fitLimits(lab: Lab, wanted: number): number {
  const needed = wanted + DESCRIPTOR_MARGIN;
  const limit = Math.min(raiseDescriptorLimit(process.pid, needed), raiseDescriptorLimit(lab.server.pid, needed));
  const fits = Math.min(wanted, limit - DESCRIPTOR_MARGIN);
  if (fits < wanted) lab.notes.push(`only ${integer(fits)} of ${integer(wanted)} connections: the open-file limit is ${integer(limit)} and prlimit could not raise it`);
  return fits;
}

async function attack(lab: Lab, wanted: number, parameters: string) {
  const connections = fitLimits(lab, wanted);
  const window = await lab.beginAttack();
  const began = performance.now();
  const clients = await connectMany(lab.port, connections);
  const openMs = performance.now() - began;
  await Bun.sleep(HOLD_MS);
  const counted = (await lab.stats()).get("curr_connections") ?? NaN;
  const held = lab.server.memory().rss;
  const during = await window.end();
  for (const client of clients) client.close();
  const after = await lab.settle();
  const roundTrip = await lab.roundTrip();

  lab.bound("time to open them", `${secs(openMs)}`, "-", null);
  // stats counts its own connection too, the ping's, and maybe a fresh probe's.
  lab.bound("curr_connections while held", integer(counted), `${integer(connections)} + this stats request + the ping (+ a fresh probe)`, counted >= connections + 2 && counted <= connections + 3);
  lab.bound("RSS per idle connection", `${((held - during.before) / connections / 1024).toFixed(1)} KiB`, "≤ 128 KiB", held - during.before <= connections * CONNECTION_ALLOWANCE);
  return lab.result({
    name: "7. idle connections",
    parameters: connections === wanted ? parameters : `${integer(connections)} idle connections (of ${integer(wanted)} asked for)`,
    during,
    after,
    ceiling: ceiling(during.before, [per(connections, CONNECTION_ALLOWANCE, "per connection")]),
    incorrect: roundTrip === null ? [] : [roundTrip],
  });
}
