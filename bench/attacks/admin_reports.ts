/**
 * Attack 13 (not in issue 9), concurrent admin reports: a server with `admin_port = 0` (reading
 * needs no token) holds Q idle queues, made by gets of new names (100 per get, as attack 3). Then
 * C connections to the admin port each send one request at the same moment: half
 * `GET /stats.json`, half `GET /metrics`. Half of each half read their replies whole, each
 * checked (/stats.json: valid JSON listing Q + 1 queues, the probe's ping queue being one;
 * /metrics: Q + 1 `kestrel_queue_items` lines, the text ending with the last queue's line); the
 * others never read (paused sockets) and are closed after HOLD_MS (Bun.serve would time them out
 * after 10 s). The burst is repeated ROUNDS times. A hostile-client probe found 50 such requests
 * at 20,000 queues took the server from 162 to 856 MiB and stalled a 5 ms ping for 290 ms, one
 * snapshot of every queue per request; requests that arrive together now share one, at most 3
 * exist at once (src/server/admin/snapshot_pool.ts), and a body being sent holds one chunk.
 *
 * "before" is the RSS before the queues were made; the window (peak, ping, new clients) covers the
 * bursts only, so the gets that make the queues are not counted as the attack's stalls.
 * Ceiling: before + Q x 8 KiB per idle queue + 3 snapshots x Q x 512 B + C x 128 KiB per
 * connection + C x 64 KiB (one chunk of a streamed body each) + what is made for each client that
 * never reads until its socket's kernel buffers are full (tcp_wmem's maximum, garbage until
 * collected) + the pacer's garbage.
 * Other bounds: each reading client's reply complete and correct; RSS with the queues, before the
 * bursts (reported); the slowest reader of each round (reported); RSS 3 s after.
 * Knobs: ATTACK_ADMIN_QUEUES (Q, default 20000, quick 5000), ATTACK_ADMIN_CLIENTS (C, default 50, quick 20).
 */
import { AttackClient, expectAll, getsOfNewNames } from "../lib/attack_client.ts";
import { ADMIN_SNAPSHOTS, ADMIN_SNAPSHOT_ALLOWANCE_PER_QUEUE, CONNECTION_ALLOWANCE, MAX_NEW_QUEUES, QUEUE_ALLOWANCE, STREAMED_CHUNK, ceiling, kernelSendBuffer, per, size } from "../lib/attack_bounds.ts";
import { type Lab, withLab } from "../lib/attack_lab.ts";
import type { AttackPlan } from "../lib/attack_plan.ts";
import { PING_QUEUE } from "../lib/ping.ts";
import { type HttpReply, RawHttpGet } from "../lib/raw_http.ts";
import { integer, mib } from "../lib/report.ts";

const ROUNDS = 2;
const HOLD_MS = 5000;
const REPLY_TIMEOUT_MS = 60_000;
const PATHS = ["/stats.json", "/metrics"] as const;

export const adminReports: AttackPlan = (knobs) => {
  const queues = knobs.count("ATTACK_ADMIN_QUEUES", 20_000, 5000);
  const clients = knobs.count("ATTACK_ADMIN_CLIENTS", 50, 20);
  const parameters = `${clients} admin clients at once, half \`/stats.json\`, half \`/metrics\`, half of each never reading (closed after ${HOLD_MS / 1000} s), ${ROUNDS} rounds; ${integer(queues)} idle queues made by gets of ${MAX_NEW_QUEUES} new names`;
  return {
    title: "13. concurrent admin reports",
    parameters,
    diskBytes: 0,
    run: () => withLab("concurrent admin reports", "admin_port = 0\n", (lab) => attack(lab, queues, clients, parameters)),
  };
};

/** The queues a report must list, by name (the order reports list them in). */
interface Listing {
  readonly count: number;
  readonly last: string;
}

/** What is wrong with one reader's reply, or null. */
function checkReply(path: string, reply: HttpReply, listing: Listing): string | null {
  if (reply.status !== 200) return `${path}: status ${reply.status}`;
  return path === "/stats.json" ? checkStats(reply.body, listing) : checkMetrics(reply.body, listing);
}

function checkStats(body: string, listing: Listing): string | null {
  let queues: number;
  try {
    queues = Object.keys((JSON.parse(body) as { queues: Record<string, unknown> }).queues).length;
  } catch (error) {
    return `/stats.json: not the stats (${(error as Error).message}; ${body.length} chars)`;
  }
  return queues === listing.count ? null : `/stats.json: ${integer(queues)} queues, expected ${integer(listing.count)}`;
}

function checkMetrics(body: string, listing: Listing): string | null {
  const lastLine = `kestrel_queue_journal_failing{queue="${listing.last}"} 0\n`;
  if (!body.endsWith(lastLine)) return `/metrics: does not end with ${lastLine.trim()} (ends ${JSON.stringify(body.slice(-60))})`;
  const queues = body.split('\nkestrel_queue_items{queue="').length - 1;
  return queues === listing.count ? null : `/metrics: ${integer(queues)} queues, expected ${integer(listing.count)}`;
}

/** Whether client i of a burst reads its reply. */
const reads = (i: number): boolean => i % 4 < 2;

/** What one burst found: what was wrong with the readers' replies, and when the last was whole. */
interface Burst {
  readonly wrong: readonly string[];
  readonly readers: number;
  readonly slowestMs: number;
}

/**
 * `clients` connections to the admin port send their requests in one moment: client i asks
 * PATHS[i % 2], and reads its reply if i % 4 < 2. The others are closed HOLD_MS after the send.
 */
async function burst(adminPort: number, clients: number, listing: Listing): Promise<Burst> {
  const askers = await Promise.all(
    Array.from({ length: clients }, async (_, i) => ({ path: PATHS[i % 2]!, reads: reads(i), get: await RawHttpGet.connect(adminPort, reads(i)) })),
  );
  const sentAt = performance.now();
  for (const asker of askers) asker.get.send(asker.path);
  const readers = askers.filter((asker) => asker.reads);
  const hold = Bun.sleep(HOLD_MS).then(() => askers.filter((asker) => !asker.reads).forEach((asker) => asker.get.close()));
  let slowestMs = 0;
  const outcomes = readers.map((asker) =>
    asker.get.reply(REPLY_TIMEOUT_MS).then(
      (reply) => {
        slowestMs = Math.max(slowestMs, performance.now() - sentAt);
        return checkReply(asker.path, reply, listing);
      },
      (error: Error) => `${asker.path}: ${error.message}`,
    ),
  );
  const wrong = (await Promise.all(outcomes)).filter((problem) => problem !== null);
  await hold;
  for (const asker of readers) asker.get.close();
  return { wrong, readers: readers.length, slowestMs };
}

/** Makes `queues` idle queues by gets of new names; what went wrong, or null. */
async function makeQueues(lab: Lab, names: readonly string[]): Promise<string | null> {
  const client = await AttackClient.connect(lab.port);
  try {
    const created = await expectAll(client, getsOfNewNames(names), "END");
    return created === null ? null : `gets of new names: ${created}`;
  } finally {
    client.close();
  }
}

async function attack(lab: Lab, queues: number, clients: number, parameters: string) {
  const adminPort = await lab.adminPort();
  const names = Array.from({ length: queues }, (_, n) => `a${n}`);
  const listing: Listing = { count: queues + 1, last: [...names, PING_QUEUE].reduce((a, b) => (a > b ? a : b)) };
  const before = lab.server.memory().rss;
  const incorrect: string[] = [];
  const made = await makeQueues(lab, names);
  if (made !== null) incorrect.push(made);
  const withQueues = lab.server.memory().rss;

  const window = await lab.beginAttack();
  for (let round = 1; round <= ROUNDS; round++) {
    const { wrong, readers, slowestMs } = await burst(adminPort, clients, listing);
    incorrect.push(...wrong.map((problem) => `round ${round}: ${problem}`));
    lab.bound(`round ${round}: readers' replies complete and correct`, `${readers - wrong.length} of ${readers} (the last whole after ${(slowestMs / 1000).toFixed(1)} s)`, `${readers} of ${readers}`, wrong.length === 0);
  }
  const during = await window.end();
  const after = await lab.settle();
  const roundTrip = await lab.roundTrip();
  if (roundTrip !== null) incorrect.push(roundTrip);

  lab.bound(`RSS with ${integer(queues)} idle queues, before the bursts`, `${mib(withQueues)} (${((withQueues - before) / queues / 1024).toFixed(1)} KiB a queue)`, "-", null);
  const nonReaders = Array.from({ length: clients }, (_, i) => !reads(i)).filter(Boolean).length;
  const unread = per(nonReaders, kernelSendBuffer(), "made for a client that never reads, as its socket's kernel buffers take it (tcp_wmem's maximum)");
  lab.bound("peak over the RSS with the queues", mib(during.peak - withQueues), `≤ ${size(ADMIN_SNAPSHOTS * queues * ADMIN_SNAPSHOT_ALLOWANCE_PER_QUEUE)} snapshots + ${size(clients * (CONNECTION_ALLOWANCE + STREAMED_CHUNK))} connections + ${size(unread[0])} made for non-readers (no other garbage allowance)`, null);
  return lab.result({
    name: "13. concurrent admin reports",
    parameters,
    during: { ...during, before },
    after,
    ceiling: ceiling(before, [
      per(queues, QUEUE_ALLOWANCE, "per idle queue"),
      [ADMIN_SNAPSHOTS * queues * ADMIN_SNAPSHOT_ALLOWANCE_PER_QUEUE, `${ADMIN_SNAPSHOTS} snapshots × ${integer(queues)} × ${size(ADMIN_SNAPSHOT_ALLOWANCE_PER_QUEUE)} per queue`],
      per(clients, CONNECTION_ALLOWANCE, "per connection"),
      per(clients, STREAMED_CHUNK, "one chunk of a streamed body"),
      unread,
    ]),
    incorrect,
  });
}
