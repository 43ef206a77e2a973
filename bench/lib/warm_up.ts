/**
 * Ordinary traffic a lab's server serves before an attack is measured, so that the attack's "RSS
 * before" is that of a server that has been serving rather than one just started.
 *
 * A fresh server's resident set grows by about 20 MiB once, in its first seconds of traffic,
 * whatever the traffic: its code paths are paged in and the JIT compiles the hot ones (compiled
 * code and the compilers' working memory). Attack 4 (timed-out gets) showed it: +20-25 MiB on a
 * fresh server, +1.6 MiB with the JIT turned off (BUN_JSC_useJIT=0), against a ceiling whose
 * allowances are for what the attacker makes the server hold. That growth is the server's, paid
 * once; the ceilings measure the attacker's.
 *
 * The traffic: pipelined sets and gets of 1 KiB items, reliable reads (open, close, abort) and
 * blocking gets that time out, WARM_UP_MS of each on its own connection; then the queues are
 * deleted and the connections closed.
 *
 * Invariant: leaves nothing behind that an attack counts: no queue, item, open item, waiter or
 * connection (queue_creates and queue_deletes move by the same amount).
 */
import { AttackClient } from "./attack_client.ts";

/** How long each kind of traffic runs. */
const WARM_UP_MS = 3000;
const ITEM = Buffer.alloc(1024, "w");
const SET_GET = "warm_up";
const RELIABLE = "warm_up_reliable";
const WAIT = "warm_up_wait";
const BATCH = 50;

/** Serves the warm-up traffic on `port` and deletes its queues. */
export async function warmUp(port: number): Promise<void> {
  const clients = await Promise.all([0, 1, 2].map(() => AttackClient.connect(port)));
  try {
    const until = performance.now() + WARM_UP_MS;
    const repeat = async (client: AttackClient, request: Buffer | string, replies: number) => {
      while (performance.now() < until) await client.request(request, replies);
    };
    await Promise.all([
      repeat(clients[0]!, Buffer.concat([sets(SET_GET, BATCH), Buffer.from(`get ${SET_GET}\r\n`.repeat(BATCH))]), 2 * BATCH),
      repeat(clients[1]!, Buffer.concat([sets(RELIABLE, BATCH), Buffer.from(reliableReads(BATCH))]), 2 * BATCH + 3),
      repeat(clients[2]!, `get ${WAIT}/t=1\r\n`.repeat(BATCH), BATCH),
    ]);
    for (const queue of [SET_GET, RELIABLE, WAIT]) await clients[0]!.request(`delete ${queue}\r\n`, 1);
  } finally {
    for (const client of clients) client.close();
  }
}

/** `count` sets of ITEM to `queue`, in one buffer. */
function sets(queue: string, count: number): Buffer {
  const tail = Buffer.from("\r\n");
  return Buffer.concat(Array.from({ length: count }, () => [Buffer.from(`set ${queue} 0 0 ${ITEM.length}\r\n`), ITEM, tail]).flat());
}

/**
 * Reliable reads of `count` items of RELIABLE, in `count` + 3 requests: an open, opens that
 * confirm the one before, the last one aborted, opened again and confirmed.
 */
function reliableReads(count: number): string {
  const get = (options: string) => `get ${RELIABLE}/${options}\r\n`;
  return get("open") + get("close/open").repeat(count - 1) + get("abort") + get("open") + get("close");
}
