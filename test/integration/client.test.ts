/**
 * KestrelClient against real servers: the operations across three of them, and a server killed
 * with kill -9 and restarted while producers and consumers run, with a ledger of what was
 * acknowledged and what was delivered.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { KestrelClient } from "../../src/client/index.ts";
import { ServerProcess, freePort } from "../helpers/server.ts";

const text = (data: Uint8Array | null | undefined) => (data == null ? null : Buffer.from(data).toString());
const clients: KestrelClient[] = [];

function clientFor(servers: readonly ServerProcess[]): KestrelClient {
  const client = new KestrelClient({ servers: servers.map((server) => `127.0.0.1:${server.port}`), statusIntervalMs: 200, backoff: { baseMs: 50, maxMs: 500 } });
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

describe("three servers", () => {
  let servers: ServerProcess[];

  beforeAll(async () => {
    servers = await Promise.all([ServerProcess.start(), ServerProcess.start(), ServerProcess.start()]);
  });

  afterAll(async () => {
    for (const server of servers) expect(await server.stop()).toBe(0);
  });

  test("put spreads items over the servers; get finds each of them wherever it is", async () => {
    const c = clientFor(servers);
    const items = Array.from({ length: 60 }, (_, i) => `item ${i}`);
    for (const item of items) await c.put("spread", item);
    const perServer = await Promise.all(servers.map(async (server) => Number((await (await server.client()).stats()).get("queue_spread_items"))));
    expect(perServer.reduce((a, b) => a + b)).toBe(60);
    for (const count of perServer) expect(count).toBeGreaterThan(0);
    const got: string[] = [];
    for (let data = await c.get("spread"); data !== null; data = await c.get("spread")) got.push(text(data)!);
    expect(got.sort()).toEqual(items.sort());
  });

  test("binary items and expiry go through unchanged", async () => {
    const c = clientFor(servers);
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256);
    await c.put("binary", bytes, { expiresInMs: 60_000 });
    expect([...(await c.get("binary", { timeoutMs: 1000 }))!]).toEqual([...bytes]);
  });

  test("open, then abort gives the item back and close confirms it; both on the opening connection", async () => {
    const c = clientFor(servers);
    await c.put("reliable", "job");
    const first = await c.open("reliable", { timeoutMs: 1000 });
    expect(text(first!.data)).toBe("job");
    expect(servers.map((server) => `127.0.0.1:${server.port}`)).toContain(first!.server);
    expect(await c.get("reliable")).toBeNull();
    await first!.abort();
    const again = await c.open("reliable");
    expect([text(again!.data), again!.server]).toEqual(["job", first!.server]);
    await again!.close();
    expect(await c.get("reliable", { timeoutMs: 200 })).toBeNull();
    const owner = servers.find((server) => `127.0.0.1:${server.port}` === first!.server)!;
    expect((await (await owner.client()).stats()).get("queue_reliable_open_transactions")).toBe("0");
  });

  test("a blocking get finds an item put on any server while it waits", async () => {
    const c = clientFor(servers);
    const waiting = c.get("later", { timeoutMs: 30_000 });
    const direct = await servers[2]!.client();
    await direct.set("later", "arrived");
    expect(text(await waiting)).toBe("arrived");
  });

  test("consume with several workers handles every item once, confirming each", async () => {
    const c = clientFor(servers);
    const items = Array.from({ length: 300 }, (_, i) => `work ${i}`);
    await Promise.all(items.map((item) => c.put("work", item)));
    const seen: string[] = [];
    const stop = new AbortController();
    await c.consume(
      "work",
      async (data) => {
        seen.push(text(data)!);
        if (seen.length === items.length) stop.abort();
      },
      { concurrency: 5, signal: stop.signal },
    );
    expect(seen.sort()).toEqual(items.sort());
    for (const server of servers) {
      const stats = await (await server.client()).stats();
      expect([stats.get("queue_work_items"), stats.get("queue_work_open_transactions")]).toEqual(["0", "0"]);
    }
  });
});

test("a server killed with kill -9 and restarted mid-run: every acknowledged item is delivered, nothing is lost", async () => {
  const ports = [freePort(), freePort(), freePort()];
  const servers = await Promise.all(ports.map((port) => ServerProcess.start({ args: ["--port", String(port)] })));
  const c = clientFor(servers);
  const acknowledged = new Set<string>();
  const delivered = new Map<string, number>();
  const stop = new AbortController();
  const everything = Promise.withResolvers<void>();
  let produced = false;
  const checkDelivered = () => {
    if (produced && [...acknowledged].every((item) => delivered.has(item))) everything.resolve();
  };
  const consuming = c.consume(
    "ledger",
    async (data) => {
      const item = text(data)!;
      delivered.set(item, (delivered.get(item) ?? 0) + 1);
      if (delivered.get(item) === 1) checkDelivered();
    },
    { concurrency: 4, signal: stop.signal },
  );

  let victim = servers[1]!;
  const killed = Promise.withResolvers<void>();
  const producer = async (id: number) => {
    for (let i = 0; i < 500; i++) {
      const item = `p${id}-${i}`;
      await c.put("ledger", item);
      acknowledged.add(item);
      if (acknowledged.size === 600) killed.resolve();
    }
  };
  const producing = Promise.all([0, 1, 2, 3].map(producer));
  await killed.promise;
  await victim.kill9();
  victim = await victim.restart();
  await producing;
  produced = true;
  checkDelivered();
  await everything.promise;
  stop.abort();
  await consuming;

  const lost = [...acknowledged].filter((item) => !delivered.has(item));
  const duplicates = [...delivered.values()].filter((count) => count > 1).length;
  console.log(`kill -9 run: ${acknowledged.size} acknowledged, ${delivered.size} delivered, ${duplicates} delivered more than once`);
  expect(lost).toEqual([]);
  expect(acknowledged.size).toBe(2000);
  for (const server of [servers[0]!, victim, servers[2]!]) expect(await server.stop()).toBe(0);
});
