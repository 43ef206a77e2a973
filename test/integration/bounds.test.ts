/**
 * Memory any client can take is bounded: request bytes across all connections
 * (max_pending_request_bytes), the item bytes of one get's reply, the queues one get creates,
 * the queues served (max_queues).
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const MiB = 1024 * 1024;

/** Polls `stats` on `c` until `done` holds (the server has no event to await for these). */
async function statsUntil(c: TestClient, done: (stats: Map<string, string>) => boolean): Promise<Map<string, string>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const stats = await c.stats();
    if (done(stats) || Date.now() > deadline) return stats;
    await Bun.sleep(20);
  }
}

const stat = (stats: Map<string, string>, name: string) => Number(stats.get(name));

describe("bounds", () => {
  test("max_pending_request_bytes: a second big set waits while a stalled one holds the budget; small requests go on; both complete", async () => {
    const server = await ServerProcess.start({ config: 'max_pending_request_bytes = "4MiB"\n' });
    const watcher = await server.client();
    const stalled = await server.client();
    const waiting = await server.client();
    const size = 3 * MiB;
    const body = (fill: string) => Buffer.alloc(size, fill);

    // A set announcing 3 MiB, most of it sent, then the client stalls: it holds what it sent.
    await stalled.send(Buffer.concat([Buffer.from(`set first 0 0 ${size}\r\n`), body("a").subarray(0, size - 1000)]));
    await statsUntil(watcher, (stats) => stat(stats, "pending_request_bytes") >= size - 1000);

    // A second 3 MiB set doesn't fit next to it: the server stops reading it.
    const second = waiting.send(Buffer.concat([Buffer.from(`set second 0 0 ${size}\r\n`), body("b"), Buffer.from("\r\n")]));
    const afterWait = await statsUntil(watcher, (stats) => stat(stats, "request_waits") >= 1);
    expect(stat(afterWait, "request_waits")).toBeGreaterThanOrEqual(1);
    expect(stat(afterWait, "pending_request_bytes")).toBeLessThan(4 * MiB + 512 * 1024);

    // Ordinary requests are not held up.
    expect(await watcher.set("small", "x")).toBe("STORED");
    expect(await watcher.get("small")).toBe("x");

    // The first set completes, gives its claim back, and the second is read and stored.
    await stalled.send(Buffer.concat([body("a").subarray(size - 1000), Buffer.from("\r\n")]));
    expect(await stalled.readLine()).toBe("STORED");
    await second;
    expect(await waiting.readLine()).toBe("STORED");
    for (const [queue, fill] of [["first", "a"], ["second", "b"]] as const) {
      await watcher.send(`get ${queue}\r\n`);
      expect(Buffer.from((await watcher.readValue())!.data).equals(body(fill))).toBe(true);
    }
    expect(stat(await watcher.stats(), "pending_request_bytes")).toBeLessThan(64 * 1024);
    for (const c of [watcher, stalled, waiting]) c.close();
    await server.stop();
    server.removeData();
  }, 60_000);

  test("set headers announcing big blocks hold only what was sent: another client's set is STORED while they wait", async () => {
    const server = await ServerProcess.start({ config: 'max_pending_request_bytes = "4MiB"\n' });
    const squatters = await Promise.all(Array.from({ length: 4 }, () => server.client()));
    for (const [i, squatter] of squatters.entries()) await squatter.send(`set squat${i} 0 0 ${4 * MiB - 64 * 1024}\r\nx`);
    const c = await server.client();
    await statsUntil(c, (stats) => stat(stats, "pending_request_bytes") >= 4);
    expect(await c.set("victim", Buffer.alloc(MiB, "v"))).toBe("STORED");
    await c.send("get victim\r\n");
    expect(Buffer.from((await c.readValue())!.data).equals(Buffer.alloc(MiB, "v"))).toBe(true);
    for (const client of [c, ...squatters]) client.close();
    await server.stop();
    server.removeData();
  }, 60_000);

  test("8 clients sending big sets that together need twice max_pending_request_bytes all finish (no circular wait)", async () => {
    const server = await ServerProcess.start({ config: 'max_pending_request_bytes = "16MiB"\n' });
    const clients = await Promise.all(Array.from({ length: 8 }, () => server.client()));
    const body = (i: number) => Buffer.alloc(4 * MiB, String(i));
    const replies = await Promise.all(clients.map((client, i) => client.set(`big${i}`, body(i))));
    expect(replies).toEqual(Array(8).fill("STORED"));
    for (const [i, client] of clients.entries()) {
      await client.send(`get big${i}\r\n`);
      expect(Buffer.from((await client.readValue())!.data).equals(body(i))).toBe(true);
      client.close();
    }
    await server.stop();
    server.removeData();
  }, 60_000);

  test("a request bigger than max_pending_request_bytes is still served when nothing else holds the budget", async () => {
    const server = await ServerProcess.start({ config: 'max_pending_request_bytes = "1MiB"\n' });
    const c = await server.client();
    expect(await c.set("big", Buffer.alloc(3 * MiB, "z"))).toBe("STORED");
    await c.send("get big\r\n");
    expect((await c.readValue())!.data.length).toBe(3 * MiB);
    c.close();
    await server.stop();
    server.removeData();
  }, 60_000);

  test("a multi-key get stops taking items once its reply holds 4 MiB; the rest stay queued", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    for (let i = 0; i < 10; i++) expect(await c.set("big", Buffer.alloc(MiB, String(i)))).toBe("STORED");
    // Ten keys of one queue: a repeated key would be served once, so each is spelled its own way.
    await c.send(`get ${Array.from({ length: 10 }, (_, i) => `big/t=${i}`).join(" ")}\r\n`);
    const lines: string[] = [];
    for (let header = await c.readLine(); header !== "END"; header = await c.readLine()) {
      lines.push(header);
      await c.readBytes(MiB + 2);
    }
    expect(lines).toEqual([0, 1, 2, 3].map((i) => `VALUE big/t=${i} 0 ${MiB}`));
    expect((await c.stats()).get("queue_big_items")).toBe("6");
    await c.send("get big\r\n");
    expect(Buffer.from((await c.readValue())!.data).equals(Buffer.alloc(MiB, "4"))).toBe(true);
    c.close();
    await server.stop();
    server.removeData();
  }, 60_000);

  test("one get creates at most 100 queues; a get naming more creates none", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    const names = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}${i}`).join(" ");
    expect(await c.call(`get ${names(101, "many")}`)).toBe("CLIENT_ERROR a get may create at most 100 queues; this one names 101 that don't exist");
    expect([...(await c.stats()).keys()].some((name) => name.startsWith("queue_many"))).toBe(false);
    expect(await c.call(`get ${names(100, "some")}`)).toBe("END");
    expect([...(await c.stats()).keys()].filter((name) => /^queue_some\d+_items$/.test(name)).length).toBe(100);
    c.close();
    await server.stop();
    server.removeData();
  });

  test("noreply sets to a parent with over 1,000 fanout children are fed before the connection's next request runs", async () => {
    // Their children are fed over turns, the copies waiting in memory meanwhile. The connection
    // used to go on at once: one client pipelining 10-byte noreply sets queued a million of them
    // in 22 s (680 MiB, growing), which a clean stop would have had to feed first.
    const server = await ServerProcess.start();
    const c = await server.client();
    const children = 1001;
    for (let first = 0; first < children; first += 100) {
      const names = Array.from({ length: Math.min(100, children - first) }, (_, i) => `wide+c${first + i}`).join(" ");
      expect(await c.call(`get ${names}`)).toBe("END");
    }
    const sets = 50;
    await c.send("set wide 0 0 5 noreply\r\nitem!\r\n".repeat(sets));
    expect(await c.call("version")).toStartWith("VERSION ");
    const stats = await c.stats();
    expect([stat(stats, "queue_wide_items"), stat(stats, "queue_wide+c0_items"), stat(stats, "queue_wide+c1000_items")]).toEqual([sets, sets, sets]);
    c.close();
    await server.stop();
    server.removeData();
  }, 60_000);

  test("max_queues: a set or get naming one queue more is refused and changes nothing; a delete frees a place; a reload raises it; queues on disk always load", async () => {
    const configPath = join(tempDir(), "kestrel.toml");
    const server = await ServerProcess.start({ configPath, config: "max_queues = 3\n" });
    const c = await server.client();
    for (const name of ["a", "b", "c"]) expect(await c.set(name, name)).toBe("STORED");
    const refused = "SERVER_ERROR too many queues: max_queues (3) are served; delete some or raise max_queues";
    const mark = server.output.length;
    expect(await c.set("d", "d")).toBe(refused);
    expect(await c.call("get d")).toBe(refused);
    expect(await c.call("get a+child")).toBe(refused); // a fanout child is a queue too
    expect(await c.call("get e/t=100")).toBe(refused);
    await server.waitForLog(/WARN +queue 'd' not created: too many queues: max_queues \(3\) are served/, mark);
    let stats = await c.stats();
    expect(stat(stats, "queue_creates_refused")).toBe(4);
    expect([...stats.keys()].filter((name) => /^queue_[a-z+]+_items$/.test(name)).sort()).toEqual(["queue_a_items", "queue_b_items", "queue_c_items"]);
    // The queues served go on as before.
    expect(await c.set("a", "a2")).toBe("STORED");
    expect(await c.get("b")).toBe("b");

    expect(await c.call("delete c")).toBe("DELETED");
    expect(await c.set("d", "d")).toBe("STORED");
    c.close();
    await server.stop();

    // Three queues on disk (a, b, d), a limit of two: all three load; a fourth is refused.
    const again = await server.restart({ configPath, config: "max_queues = 2\n" });
    const d = await again.client();
    stats = await d.stats();
    expect([...stats.keys()].filter((name) => /^queue_[a-z+]+_items$/.test(name)).length).toBe(3);
    expect(await d.get("a")).toBe("a");
    expect(await d.set("e", "e")).toBe("SERVER_ERROR too many queues: max_queues (2) are served; delete some or raise max_queues");
    writeFileSync(configPath, "max_queues = 10\n");
    expect(await d.call("reload")).toBe("Reloaded config.");
    expect(await d.set("e", "e")).toBe("STORED");
    d.close();
    await again.stop();
    again.removeData();
  });
});
