/**
 * Attack 10 (not in issue 9), slowloris: N connections each send most of a request line (a
 * `get` of 7,900 bytes, under the 8,192-byte line limit, with no CRLF) and then one more byte
 * every 500 ms, never finishing it; then one connection sends a line over the limit. The server
 * holds each partial line in its parser (a claim under SMALL_CLAIM, always granted), so memory
 * should grow by the lines, not by more; the over-long line is answered CLIENT_ERROR and its
 * connection closed; ordinary clients are served throughout. The idle `timeout` (off by default)
 * is what would end such connections; this attack does not rely on it.
 *
 * Ceiling: before + N x 128 KiB per connection.
 * Other bounds: the over-long line's reply and close; curr_connections while held.
 * Knobs: ATTACK_SLOWLORIS (N, default 5000, quick 1000).
 */
import { AttackClient, connectMany } from "../lib/attack_client.ts";
import { CONNECTION_ALLOWANCE, ceiling, per } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { raiseDescriptorLimit } from "../lib/process_readings.ts";
import { integer } from "../lib/report.ts";

const PARTIAL_LINE_BYTES = 7900;
/** The server's MAX_LINE_LENGTH (src/server/memcache/front_end.ts). */
const MAX_LINE_LENGTH = 8192;
const TRICKLE_MS = 500;
const HOLD_MS = 5000;
const DESCRIPTOR_MARGIN = 500;

export const slowloris: AttackPlan = (knobs) => {
  const wanted = knobs.count("ATTACK_SLOWLORIS", 5000, 1000);
  const parameters = `${integer(wanted)} connections each send ${integer(PARTIAL_LINE_BYTES)} bytes of a \`get\` line, then a byte every ${TRICKLE_MS} ms; one line over ${integer(MAX_LINE_LENGTH)} bytes`;
  return { title: "10. slowloris", parameters, diskBytes: 0, run: () => withLab("slowloris", "", (lab) => attack(lab, wanted, parameters)) };
};

/** A `get` line of `bytes` bytes of queue names, without its CRLF. */
const partialGet = (bytes: number): string => `get ${"s ".repeat(bytes)}`.slice(0, bytes);

async function attack(lab: Lab, wanted: number, parameters: string) {
  const limit = Math.min(raiseDescriptorLimit(process.pid, wanted + DESCRIPTOR_MARGIN), raiseDescriptorLimit(lab.server.pid, wanted + DESCRIPTOR_MARGIN));
  const connections = Math.min(wanted, limit - DESCRIPTOR_MARGIN);
  if (connections < wanted) lab.notes.push(`only ${integer(connections)} of ${integer(wanted)} connections: the open-file limit is ${integer(limit)}`);
  const window = await lab.beginAttack();
  const attackers = await connectMany(lab.port, connections);
  for (const attacker of attackers) attacker.send(partialGet(PARTIAL_LINE_BYTES));
  const trickle = setInterval(() => {
    for (const attacker of attackers) attacker.send(" s");
  }, TRICKLE_MS);
  await Bun.sleep(HOLD_MS);
  const counted = (await lab.stats()).get("curr_connections") ?? NaN;
  const longLine = await AttackClient.connect(lab.port);
  const [reply] = await longLine.request(`${partialGet(MAX_LINE_LENGTH + 100)}\r\n`, 1, 10_000).catch((error: Error) => [{ kind: "error", detail: error.message }] as const);
  await Bun.sleep(500);
  const longClosed = longLine.closedBy !== null;
  longLine.close();
  clearInterval(trickle);
  const stillOpen = attackers.filter((attacker) => attacker.closedBy === null).length;
  for (const attacker of attackers) attacker.close();
  const after = await lab.settle();
  const during = await window.end();
  const roundTrip = await lab.roundTrip();

  const longReply = `${reply!.kind} ${reply!.detail}`.trim();
  lab.bound(`a line over ${integer(MAX_LINE_LENGTH)} bytes`, `${longReply}; ${longClosed ? "closed" : "left open"}`, "CLIENT_ERROR, connection closed", reply!.kind === "unexpected" && reply!.detail.startsWith("CLIENT_ERROR") && longClosed);
  lab.bound("curr_connections while held", integer(counted), `≥ ${integer(connections)}`, counted >= connections);
  lab.bound("slow connections the server closed while they trickled (partial lines under the limit)", integer(connections - stillOpen), "-", null);
  return lab.result({
    name: "10. slowloris",
    parameters: connections === wanted ? parameters : `${parameters} (${integer(connections)} of ${integer(wanted)} connections)`,
    during,
    after,
    ceiling: ceiling(during.before, [per(connections, CONNECTION_ALLOWANCE, "per connection")]),
    incorrect: roundTrip === null ? [] : [roundTrip],
  });
}
