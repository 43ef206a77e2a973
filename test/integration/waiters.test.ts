/**
 * Blocking gets that time out leave nothing behind: their waiters leave the queue's list when
 * they time out, not when an item finally arrives. And one connection has at most one waiter (a
 * blocking get suspends it; a multi-key get waits on its keys one after another). Crowds woken
 * over turns (wake_lane.ts, deadline_timer.ts) still each get their answer: the item for every
 * blocked peek, END for every wait that ended, by its deadline, its queue's delete or the stop.
 */
import { expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { residentMiB } from "../helpers/memory.ts";
import { ServerProcess } from "../helpers/server.ts";

const KEYS_PER_GET = 100;

/**
 * `lines` pipelined `get q/t=1 q/t=01 q/t=001 ...` (`KEYS_PER_GET` keys each, one wait of 1 ms
 * spelled its own way: a repeated key would be served once) on every client, until each has been
 * answered END: every key a wait that times out.
 */
async function timedOutGets(clients: readonly TestClient[], lines: number): Promise<void> {
  const keys = Array.from({ length: KEYS_PER_GET }, (_, i) => ` q/t=${"0".repeat(i)}1`).join("");
  const batch = `get${keys}\r\n`.repeat(lines);
  await Promise.all(
    clients.map(async (c) => {
      await c.send(batch);
      for (let i = 0; i < lines; i++) expect(await c.readLine()).toBe("END");
    }),
  );
}

test("400,000 timed-out `get q/t=1` on an empty queue leave memory where it was", async () => {
  const server = await ServerProcess.start();
  const clients = await Promise.all(Array.from({ length: 400 }, () => server.client()));
  await timedOutGets(clients, 1);
  const before = residentMiB(server.proc.pid);
  await timedOutGets(clients, 10);
  // Traffic makes the server's memory pacer look, and collect if the garbage has piled up.
  expect(await clients[0]!.set("nudge", "x".repeat(4 << 20))).toBe("STORED");
  expect((await clients[0]!.get("nudge"))?.length).toBe(4 << 20);
  // Garbage goes back at the pacer's collections (a full one in the first quiet second after
  // traffic; how soon depends on the machine's load): look again after each, up to three.
  const collections = async () => Number((await clients[0]!.stats()).get("memory_collections"));
  let after = residentMiB(server.proc.pid);
  for (let looks = 0, seen = await collections(); after - before >= 60 && looks < 3; looks++) {
    while ((await collections()) === seen) await Bun.sleep(100);
    seen = await collections();
    after = residentMiB(server.proc.pid);
  }
  console.log(`resident set: ${before.toFixed(0)} MiB before, ${after.toFixed(0)} MiB after 400,000 timed-out gets`);
  // Before the fix, the waiters kept until an item came cost about 600 bytes each: +230 MiB here.
  expect(after - before).toBeLessThan(60);
  expect((await clients[0]!.stats()).get("queue_q_waiters")).toBe("0");
  for (const c of clients) c.close();
  expect(await server.stop()).toBe(0);
}, 60_000);

test("a get of several keys waits on one at a time: one waiter per connection", async () => {
  const server = await ServerProcess.start();
  const [reader, admin] = await Promise.all([server.client(), server.client()]);
  await reader.send("get a/t=5000 b/t=5000 c/t=5000\r\n");
  const waiters = async () => {
    const stats = await admin.stats();
    return ["a", "b", "c"].map((queue) => Number(stats.get(`queue_${queue}_waiters`) ?? 0));
  };
  while ((await waiters())[0] !== 1);
  expect(await waiters()).toEqual([1, 0, 0]);
  expect(await admin.set("a", "1")).toBe("STORED");
  while ((await waiters())[1] !== 1);
  expect(await waiters()).toEqual([0, 1, 0]);
  expect(await admin.set("b", "2")).toBe("STORED");
  expect(await admin.set("c", "3")).toBe("STORED");
  expect(await reader.readUntilEnd()).toEqual(["VALUE a/t=5000 0 1", "1", "VALUE b/t=5000 0 1", "2", "VALUE c/t=5000 0 1", "3"]);
  reader.close();
  admin.close();
  expect(await server.stop()).toBe(0);
});

test("one set answers 250 clients blocked in a peek, each with the item, which stays; 250 waits ending together are each answered END", async () => {
  const server = await ServerProcess.start();
  const CLIENTS = 250;
  const [admin, ...clients] = await Promise.all(Array.from({ length: CLIENTS + 1 }, () => server.client()));
  await Promise.all(clients.map((c) => c.send("get w/peek/t=60000\r\n")));
  await admin!.untilQueueStat("w", "waiters", CLIENTS);
  expect(await admin!.set("w", "item")).toBe("STORED");
  for (const c of clients) expect(await c.readUntilEnd()).toEqual(["VALUE w/peek/t=60000 0 4", "item"]);
  expect(await admin!.queueStat("w", "items")).toBe("1");

  await Promise.all(clients.map((c) => c.send("get e/t=300\r\n")));
  for (const c of clients) expect(await c.readLine()).toBe("END");
  expect(await admin!.queueStat("e", "waiters")).toBe("0");
  for (const c of [admin!, ...clients]) c.close();
  expect(await server.stop()).toBe(0);
});

/** `count` clients blocked in a get of `queue` (every other one `/open`), and one more to drive the server. */
async function blockedOn(server: ServerProcess, queue: string, count: number): Promise<{ admin: TestClient; clients: TestClient[] }> {
  const [admin, ...clients] = await Promise.all(Array.from({ length: count + 1 }, () => server.client()));
  await Promise.all(clients.map((c, i) => c.send(i % 2 === 0 ? `get ${queue}/t=60000\r\n` : `get ${queue}/open/t=60000\r\n`)));
  await admin!.untilQueueStat(queue, "waiters", count);
  return { admin: admin!, clients };
}

test("a delete of a queue 500 clients wait on (half of them /open) answers each END once; a set after it goes to the queue made again, to none of them", async () => {
  const server = await ServerProcess.start();
  const CLIENTS = 500;
  const { admin, clients } = await blockedOn(server, "d", CLIENTS);
  await admin.send("delete d\r\nset d 0 0 3\r\nnew\r\n");
  expect(await admin.readLine()).toBe("DELETED");
  expect(await admin.readLine()).toBe("STORED");
  for (const c of clients) expect(await c.readLine()).toBe("END");
  expect(await admin.queueStat("d", "items")).toBe("1");
  // Nothing more came to any of them, and an /open client holds nothing: its plain get is served.
  const last = clients[CLIENTS - 1]!;
  expect(await last.get("d")).toBe("new");
  await Promise.all(clients.slice(0, -1).map((c) => c.send("version\r\n")));
  for (const c of clients.slice(0, -1)) expect(await c.readLine()).toMatch(/^VERSION /);
  expect(await admin.queueStat("d", "open_transactions")).toBe("0");
  for (const c of [admin, ...clients]) c.close();
  expect(await server.stop()).toBe(0);
});

test("clients blocked in a get when the server stops are each answered END before their connection closes", async () => {
  const server = await ServerProcess.start();
  const CLIENTS = 500;
  const { admin, clients } = await blockedOn(server, "s", CLIENTS);
  admin.close();
  const stopped = server.stop();
  for (const c of clients) expect(await c.readLine()).toBe("END");
  await Promise.all(clients.map((c) => c.closed));
  expect(await stopped).toBe(0);
});
