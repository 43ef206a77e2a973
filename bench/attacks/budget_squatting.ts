/**
 * Attack 9 (not in issue 9), squatting on the request budget: C connections each send only the
 * header of a `set` announcing nearly max_request_size (64 MiB less 64 KiB, so that four of them
 * fill the default max_pending_request_bytes to within 256 KiB) and one byte of its data, about
 * 25 bytes each, and then nothing. A claim against max_pending_request_bytes is what a client
 * has sent, not what its header announced (request_budget.ts), so another client's 1 MiB set
 * should be served while they wait. Memory is not the issue here (the blocks are never sent):
 * the ceiling is small and should hold; what the attack shows is what such headers cost other
 * clients.
 *
 * Ceiling: before + C x 128 KiB + the 1 MiB set + 128 KiB.
 * Other bounds: pending_request_bytes while held (bytes claimed, not received), a 1 MiB set and
 * a 1 KiB set from other clients while held (answered within 1 s: the server "stays responsive";
 * the docs say big requests wait until memory is given back, but none is held here).
 * Knobs: ATTACK_SQUATTERS (C, default 4).
 */
import { CONNECTION_ALLOWANCE, DEFAULT_MAX_REQUEST_SIZE, MiB, RESPONSIVE_MS, SMALL_CLAIM, ceiling, per, size } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { connectMany } from "../lib/attack_client.ts";
import { integer, mib } from "../lib/report.ts";
import { VictimSet } from "../lib/victim_set.ts";

const ANNOUNCED = DEFAULT_MAX_REQUEST_SIZE - SMALL_CLAIM;
const VICTIM_BYTES = 1 * MiB;
const SMALL_BYTES = 1024;
const HOLD_MS = 2000;

export const budgetSquatting: AttackPlan = (knobs) => {
  const connections = knobs.count("ATTACK_SQUATTERS", 4, 4);
  const parameters = `${connections} connections send only the header of a ${mib(ANNOUNCED)} set (and 1 byte); a ${size(VICTIM_BYTES)} set from another client`;
  return { title: "9. budget squatting", parameters, diskBytes: 0, run: () => withLab("budget squatting", "", (lab) => attack(lab, connections, parameters)) };
};

async function attack(lab: Lab, connections: number, parameters: string) {
  const window = await lab.beginAttack();
  const squatters = await connectMany(lab.port, connections);
  for (const [i, squatter] of squatters.entries()) squatter.send(`set squat${i} 0 0 ${ANNOUNCED}\r\nx`);
  await Bun.sleep(HOLD_MS);
  const held = await lab.stats();
  const victim = await VictimSet.send(lab.port, VICTIM_BYTES);
  const small = await VictimSet.send(lab.port, SMALL_BYTES);
  const [victimServed, smallServed] = await Promise.all([victim.answeredWithin(RESPONSIVE_MS), small.answeredWithin(RESPONSIVE_MS)]);
  const during = await window.end();
  for (const squatter of squatters) squatter.close();
  await Promise.all([victim.afterAttackersLeft(30_000), small.afterAttackersLeft(30_000)]);
  const after = await lab.settle();
  const roundTrip = await lab.roundTrip();

  const sent = squatters.reduce((sum, squatter) => sum + squatter.bytesSent, 0);
  lab.bound("bytes the squatters sent", integer(sent), "-", null);
  lab.bound("pending_request_bytes while held", mib(held.get("pending_request_bytes") ?? NaN), "-", null);
  lab.bound(`a ${size(VICTIM_BYTES)} set from another client`, victim.describe(), `answered within ${RESPONSIVE_MS / 1000} s`, victimServed);
  lab.bound(`a ${size(SMALL_BYTES)} set from another client`, small.describe(), `answered within ${RESPONSIVE_MS / 1000} s`, smallServed);
  return lab.result({
    name: "9. budget squatting",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [per(connections, CONNECTION_ALLOWANCE, "per connection"), [VICTIM_BYTES + CONNECTION_ALLOWANCE, "the 1 MiB set + 128 KiB"]]),
    incorrect: roundTrip === null ? [] : [roundTrip],
  });
}
