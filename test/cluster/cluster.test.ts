/**
 * Three real servers driven through the client library, as a cluster is run: producers put
 * 20,000 distinct items while one server is killed with SIGKILL and restarted and another is set
 * `readonly`, drained, then `quiescent`; several workers consume meanwhile. Every acknowledged
 * item is delivered (at least once), a readonly server takes no new item, a quiescent one hands
 * none out, and the status survives a restart. Duplicates are counted and reported: they can come
 * from a put retried after its server failed before answering, or from an item whose handler ran
 * but whose confirmation died with the killed server (it is handed out again after the restart).
 */
import { afterAll, expect, test } from "bun:test";
import { KestrelClient } from "../../src/client/index.ts";
import type { TestClient } from "../helpers/client.ts";
import { cleanUpServers, freePort, ServerProcess } from "../helpers/server.ts";

const ITEMS = 20_000;
const PRODUCERS = 8;
const QUEUE = "jobs";

afterAll(cleanUpServers);

/** A server on a fixed port (a client's server list names it), restartable on the same one. */
async function startOn(port: number, dataDir?: string): Promise<ServerProcess> {
  return ServerProcess.start({ args: ["--port", String(port)], ...(dataDir === undefined ? {} : { dataDir }) });
}

async function counter(admin: TestClient, name: string): Promise<number> {
  return Number((await admin.stats()).get(name));
}

/** Resolves once `condition` holds, looking again whenever `wake` is called (at each event that may change it). */
function when(condition: () => boolean): { promise: Promise<void>; wake: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const wake = () => {
    if (condition()) resolve();
  };
  return { promise, wake };
}

test("20,000 items through three servers with a kill -9, readonly and quiescent: nothing acknowledged is lost", async () => {
  const ports = [freePort(), freePort(), freePort()];
  const servers = await Promise.all(ports.map((port) => startOn(port)));
  const client = new KestrelClient({ servers: ports.map((port) => `127.0.0.1:${port}`) });

  const acknowledged = new Set<string>();
  const delivered = new Map<string, number>();
  /** Acknowledged items not delivered yet. */
  let missing = 0;
  const milestones: Array<ReturnType<typeof when>> = [];
  const milestone = (condition: () => boolean) => {
    const m = when(condition);
    milestones.push(m);
    m.wake();
    return m.promise;
  };
  const wakeAll = () => milestones.forEach((m) => m.wake());

  const stop = new AbortController();
  const consuming = client.consume(
    QUEUE,
    async (data) => {
      const value = new TextDecoder().decode(data);
      const times = delivered.get(value) ?? 0;
      if (times === 0 && acknowledged.has(value)) missing--;
      delivered.set(value, times + 1);
      wakeAll();
    },
    { concurrency: 6, signal: stop.signal },
  );

  let next = 0;
  const producing = Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < ITEMS) {
        const value = `item-${next++}`;
        await client.put(QUEUE, value);
        acknowledged.add(value);
        if (!delivered.has(value)) missing++;
        wakeAll();
      }
    }),
  );

  // One server dies without warning while items flow both ways, and comes back on its port.
  await milestone(() => acknowledged.size >= 4_000);
  const killed = servers[1]!;
  await killed.kill9();
  await milestone(() => acknowledged.size >= 7_000);
  servers[1] = await startOn(ports[1]!, killed.dataDir);

  // Another is set readonly: from then on it takes no item, while its items are still consumed.
  await milestone(() => acknowledged.size >= 10_000);
  const drained = servers[2]!;
  const admin = await drained.client();
  expect(await admin.call("status readonly")).toBe("END");
  expect(await admin.call("status")).toBe("READONLY");
  const addedBeforeReadonly = await counter(admin, "total_items");

  await producing;
  expect(acknowledged.size).toBe(ITEMS);
  expect(await counter(admin, "total_items")).toBe(addedBeforeReadonly);

  // Drained: quiescent, and from then on it hands out nothing.
  const left = async () => (await counter(admin, "curr_items")) + Number((await admin.stats()).get(`queue_${QUEUE}_open_transactions`) ?? 0);
  while ((await left()) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await admin.call("status quiescent")).toBe("END");
  const hitsWhenQuiescent = await counter(admin, "get_hits");

  await milestone(() => missing === 0);
  stop.abort();
  await consuming;
  expect(await counter(admin, "get_hits")).toBe(hitsWhenQuiescent);
  expect(await counter(admin, "total_items")).toBe(addedBeforeReadonly);
  admin.close();

  const lost = [...acknowledged].filter((value) => !delivered.has(value));
  const duplicates = [...delivered.values()].reduce((sum, count) => sum + count - 1, 0);
  const invented = [...delivered.keys()].filter((value) => !acknowledged.has(value));
  console.log(`cluster: ${acknowledged.size} acknowledged, ${delivered.size} distinct delivered, ${lost.length} lost, ${duplicates} duplicates`);
  expect(lost).toEqual([]);
  expect(invented).toEqual([]);

  // The status is kept across a restart, even after SIGKILL.
  await drained.kill9();
  const again = await startOn(ports[2]!, drained.dataDir);
  const check = await again.client();
  expect(await check.call("status")).toBe("QUIESCENT");
  check.close();

  await client.close();
  for (const server of [servers[0]!, servers[1]!, again]) expect(await server.stop()).toBe(0);
}, 180_000);
