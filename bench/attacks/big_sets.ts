/**
 * Attack 1, big sets that stall: C connections each announce a `set` of max_request_size
 * (64 MiB), send S MiB of it (60) and stop sending. The server reads a connection only while
 * its whole set fits next to the bytes the others hold (max_pending_request_bytes), so it should
 * hold about that limit, not C x S MiB (issue 9 saw 2.3 GiB). While they hold it, another
 * client's 1 MiB set shows what the budget costs ordinary big sets: they wait (documented) until
 * the attackers leave. The peak is read once the attackers have gone and the server has settled.
 *
 * Ceiling: before + max_pending_request_bytes + C x (512 KiB socket read + 128 KiB).
 * Knobs: ATTACK_BIG_SETS (C, default 40, quick 10), ATTACK_BIG_SET_MIB (S, default 60).
 */
import { DEFAULT_MAX_PENDING_REQUEST_BYTES, DEFAULT_MAX_REQUEST_SIZE, MiB, CONNECTION_ALLOWANCE, SMALL_CLAIM, SOCKET_READ, ceiling, per, size } from "../lib/attack_bounds.ts";
import { type Lab, whenStill, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { connectMany } from "../lib/attack_client.ts";
import { integer, mib } from "../lib/report.ts";
import { VictimSet } from "../lib/victim_set.ts";

/** How long a victim's set may wait during the attack before it counts as held back. */
const VICTIM_WAIT_MS = 5000;
const VICTIM_BYTES = 1 * MiB;

export const bigSets: AttackPlan = (knobs) => {
  const connections = knobs.count("ATTACK_BIG_SETS", 40, 10);
  const sentMiB = Math.min(knobs.count("ATTACK_BIG_SET_MIB", 60, 60), DEFAULT_MAX_REQUEST_SIZE / MiB);
  const parameters = `${connections} connections × ${sentMiB} MiB sent of a ${size(DEFAULT_MAX_REQUEST_SIZE)} set, then stalled`;
  return { title: "1. big sets, stalled", parameters, diskBytes: 0, run: () => withLab("big sets", "", (lab) => attack(lab, connections, sentMiB, parameters)) };
};

async function attack(lab: Lab, connections: number, sentMiB: number, parameters: string) {
  const window = await lab.beginAttack();
  const attackers = await connectMany(lab.port, connections);
  const body = Buffer.alloc(sentMiB * MiB, "a");
  for (const attacker of attackers) {
    attacker.send(`set big 0 0 ${DEFAULT_MAX_REQUEST_SIZE}\r\n`);
    attacker.send(body);
  }
  const sent = await whenStill(() => attackers.reduce((sum, a) => sum + a.bytesSent, 0), 2000, 120_000);
  const held = await lab.stats();
  const victim = await VictimSet.send(lab.port, VICTIM_BYTES);
  await victim.answeredWithin(VICTIM_WAIT_MS);
  const heldPeak = window.peakSoFar();
  // The window closes once the server has dealt with what the attackers left in its socket
  // buffers: their data is read (and dropped) after they leave, so the peak may come then.
  for (const attacker of attackers) attacker.close();
  await victim.afterAttackersLeft(30_000);
  const after = await lab.settle();
  const during = await window.end();
  const stats = await lab.stats();
  const roundTrip = await lab.roundTrip();

  const pending = held.get("pending_request_bytes") ?? NaN;
  lab.notes.push(`the clients got ${mib(sent)} into the server's socket buffers in all (the kernel holds what the server does not read)`);
  const pendingBound = DEFAULT_MAX_PENDING_REQUEST_BYTES + connections * SOCKET_READ;
  lab.bound("pending_request_bytes while held", mib(pending), `≤ ${size(DEFAULT_MAX_PENDING_REQUEST_BYTES)} max_pending_request_bytes + ${connections} × ${size(SOCKET_READ)} socket read`, pending <= pendingBound);
  lab.bound("peak RSS while held (before the attackers left)", mib(heldPeak), "-", null);
  lab.bound("request_waits while held", integer(held.get("request_waits") ?? NaN), "-", null);
  lab.bound(`a ${size(VICTIM_BYTES)} set from another client`, victim.describe(), "waits until memory is given back (documented)", null);
  const incorrect = [roundTrip, (stats.get("pending_request_bytes") ?? 0) < SMALL_CLAIM ? null : `pending_request_bytes ${stats.get("pending_request_bytes")} after the attackers left`];
  return lab.result({
    name: "1. big sets, stalled",
    parameters,
    during,
    after,
    ceiling: ceiling(during.before, [
      [DEFAULT_MAX_PENDING_REQUEST_BYTES, `${size(DEFAULT_MAX_PENDING_REQUEST_BYTES)} max_pending_request_bytes`],
      per(connections, SOCKET_READ + CONNECTION_ALLOWANCE, "per connection (a socket read past the budget + 128 KiB)"),
    ]),
    incorrect: incorrect.filter((text) => text !== null),
  });
}
