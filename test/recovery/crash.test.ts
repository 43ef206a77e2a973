/**
 * kill -9 at random moments while producers write and reliable consumers read, over many
 * restarts on one data directory, cycling through every sync policy, with small journal segments
 * and a small memory budget (so kills also land in rotations, compactions and read-behind). At the end every acknowledged item that was
 * not confirmed consumed must be there, exactly once; nothing that was never sent and nothing
 * whose consumption was confirmed may appear. KESTREL_CRASH_CYCLES sets the number of kills
 * (default 20).
 */
import { expect, test } from "bun:test";
import { seededRandom } from "../helpers/bytes.ts";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CYCLES = Number(process.env.KESTREL_CRASH_CYCLES ?? 20);
const POLICIES = ["never", "always", "10ms"];
const PRODUCERS = 3;
const CONSUMERS = 2;
const QUEUE = "crash";

/** What the clients saw, across every cycle. */
interface Ledger {
  readonly sent: Set<string>;
  readonly acked: Set<string>;
  readonly confirmed: Set<string>;
  /** Items whose close was sent but not answered when the server died: gone or back, either is right. */
  readonly closing: Set<string>;
}

/** Tiny segments and memory, so kills land in rotations, compactions and read-behind. */
function configFor(cycle: number): string {
  return `sync_journal = "${POLICIES[cycle % POLICIES.length]}"\nmax_journal_size = "16KiB"\nmax_journal_overflow = 2\nmax_memory_size = "4KiB"\n`;
}

/** Sends pipelined batches of new items until the connection dies; records what was acknowledged. */
async function produce(client: TestClient, name: string, ledger: Ledger, random: () => number): Promise<void> {
  for (let seq = 0; ; ) {
    const batch = Array.from({ length: 1 + Math.floor(random() * 8) }, () => `${name}-${seq++}-${"x".repeat(Math.floor(random() * 300))}`);
    for (const item of batch) ledger.sent.add(item);
    await client.send(batch.map((item) => `set ${QUEUE} 0 0 ${item.length}\r\n${item}\r\n`).join(""));
    for (const item of batch) {
      const reply = await client.readLine();
      if (reply !== "STORED") throw new Error(`set of ${item} answered ${reply}`);
      ledger.acked.add(item);
    }
  }
}

/** Reliable reads (`get q/close/open`) until the connection dies; records confirmed items. */
async function consume(client: TestClient, ledger: Ledger): Promise<void> {
  let open: string | null = null;
  for (;;) {
    if (open !== null) ledger.closing.add(open);
    await client.send(`get ${QUEUE}/close/open/t=20\r\n`);
    const value = await client.readValue();
    // The reply comes only after the close is in the journal: the previous item is gone for good.
    if (open !== null) {
      ledger.closing.delete(open);
      ledger.confirmed.add(open);
    }
    open = value === null ? null : Buffer.from(value.data).toString("latin1");
  }
}

async function runCycle(dataDir: string, cycle: number, ledger: Ledger, random: () => number): Promise<void> {
  const server = await ServerProcess.start({ dataDir, config: configFor(cycle) });
  const clients = await Promise.all(Array.from({ length: PRODUCERS + CONSUMERS }, () => server.client()));
  const work = clients.map((client, i) =>
    (i < PRODUCERS ? produce(client, `c${cycle}p${i}`, ledger, random) : consume(client, ledger)).catch((error: Error) => {
      // The kill ends every client; anything else is a failure.
      if (!/closed/.test(error.message)) throw error;
    }),
  );
  await Bun.sleep(50 + Math.floor(random() * 400)); // a random moment to crash at, not a synchronisation
  await server.kill9();
  await Promise.all(work);
}

test(`no acknowledged item is lost and nothing is invented across ${CYCLES} kill -9 restarts`, async () => {
  const random = seededRandom(Number(process.env.KESTREL_CRASH_SEED ?? 42));
  const ledger: Ledger = { sent: new Set(), acked: new Set(), confirmed: new Set(), closing: new Set() };
  const dataDir = tempDir();
  for (let cycle = 0; cycle < CYCLES; cycle++) await runCycle(dataDir, cycle, ledger, random);

  const server = await ServerProcess.start({ dataDir, config: configFor(0) });
  const client = await server.client();
  const remaining = await client.drain(QUEUE);
  client.close();
  expect(await server.stop()).toBe(0);

  const present = new Set(remaining);
  expect(present.size).toBe(remaining.length);
  const invented = remaining.filter((item) => !ledger.sent.has(item));
  expect(invented).toEqual([]);
  const resurrected = remaining.filter((item) => ledger.confirmed.has(item));
  expect(resurrected).toEqual([]);
  const lost = [...ledger.acked].filter((item) => !ledger.confirmed.has(item) && !ledger.closing.has(item) && !present.has(item));
  expect(lost).toEqual([]);
  expect(ledger.acked.size).toBeGreaterThan(CYCLES * 10);
  expect(ledger.confirmed.size).toBeGreaterThan(CYCLES);
}, 30_000 + CYCLES * 3_000);
