/**
 * Several open reads per queue per connection (`max_open_transactions`), driven over TCP against
 * a real server: Kestrel 2's memcache rules for `/open`, `/close` and `/abort` with several open
 * (one settled per request, the oldest first), the error beyond the limit, the limit's
 * inheritance and reload, and a dropped connection returning everything it held.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess, serverForFile } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CONFIG = `
max_open_transactions = 2
[queues.three]
max_open_transactions = 3
[queues.one]
max_open_transactions = 1
[queues.cl]
max_open_transactions = 3
[queues.drop]
max_open_transactions = 3
`;

const server = serverForFile({ config: CONFIG });

const openCount = (c: TestClient, queue: string) => c.queueStat(queue, "open_transactions");

describe("the limit", () => {
  test("up to max_open_transactions items open on a queue; one more open is ERROR and the connection stays usable", async () => {
    const c = await server().client();
    await c.setEach("three", ["a", "b", "c", "d"]);
    expect(await c.get("three/open")).toBe("a");
    expect(await c.get("three/open")).toBe("b");
    expect(await c.get("three/open")).toBe("c");
    expect(await c.call("get three/open")).toBe("ERROR");
    expect(await c.call("get three/open/t=100")).toBe("ERROR");
    expect(await openCount(c, "three")).toBe("3");
    expect((await c.stats()).get("queue_three_items")).toBe("1");
    // The refusal changed nothing, and the connection still works.
    expect(await c.get("three/peek")).toBe("d");
    expect(await c.call("version")).toStartWith("VERSION ");
    c.close();
  });

  test("the top-level key is the default for every queue; a queue's own table overrides it", async () => {
    const c = await server().client();
    await c.setEach("plain", ["a", "b", "c"]);
    expect(await c.get("plain/open")).toBe("a");
    expect(await c.get("plain/open")).toBe("b");
    expect(await c.call("get plain/open")).toBe("ERROR");
    await c.setEach("one", ["x", "y"]);
    expect(await c.get("one/open")).toBe("x");
    expect(await c.call("get one/open")).toBe("ERROR");
    c.close();
  });

  test("the limit is per connection: another connection opens its own", async () => {
    const [a, b] = [await server().client(), await server().client()];
    await a.setEach("perconn", ["1", "2", "3", "4", "5"]);
    expect([await a.get("perconn/open"), await a.get("perconn/open")]).toEqual(["1", "2"]);
    expect([await b.get("perconn/open"), await b.get("perconn/open")]).toEqual(["3", "4"]);
    expect(await a.call("get perconn/open")).toBe("ERROR");
    expect(await openCount(a, "perconn")).toBe("4");
    a.close();
    b.close();
  });

  test("one get may open up to the limit; past it the whole get is refused and opens nothing", async () => {
    const c = await server().client();
    await c.setEach("multi", ["1", "2", "3"]);
    await c.send("get multi/open multi/open/t=1\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE multi/open 0 1", "1", "VALUE multi/open/t=1 0 1", "2"]);
    expect(await c.call("get multi/close multi/open multi/OPEN")).toBe("ERROR");
    expect(await openCount(c, "multi")).toBe("2");
    // A close or abort earlier in the get frees a place, as the same request would.
    await c.send("get multi/close multi/open\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE multi/open 0 1", "3"]);
    expect(await openCount(c, "multi")).toBe("2");
    c.close();
  });

  test("a plain get on a queue with items open on the connection is ERROR, as Kestrel refuses a non-transactional fetch; peek and other queues go on", async () => {
    const c = await server().client();
    await c.setEach("mixed", ["a", "b", "c"]);
    await c.setEach("other", ["x"]);
    expect(await c.get("mixed/open")).toBe("a");
    expect(await c.call("get mixed")).toBe("ERROR");
    expect(await c.call("get mixed/t=50")).toBe("ERROR");
    expect(await c.call("get other mixed")).toBe("ERROR"); // the whole get is refused: nothing taken
    expect(await c.get("mixed/peek")).toBe("b");
    expect(await c.get("other")).toBe("x");
    expect((await c.stats()).get("queue_mixed_items")).toBe("2");
    // Once the open item is settled (or in the same get, by a close before it), plain gets work again.
    await c.send("get mixed/close mixed\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE mixed 0 1", "b"]);
    expect(await c.get("mixed")).toBe("c");
    c.close();
  });
});

describe("close and abort with several open", () => {
  test("close confirms the oldest open item only", async () => {
    const c = await server().client();
    await c.setEach("cl", ["a", "b", "c", "d"]);
    for (const item of ["a", "b", "c"]) expect(await c.get("cl/open")).toBe(item);
    expect(await c.get("cl/close")).toBeNull();
    expect(await openCount(c, "cl")).toBe("2");
    c.close();
    // b and c were still open: they come back ahead of d (aborted oldest first, so c at the head); a was confirmed.
    const d = await server().client();
    expect(await d.get("cl/t=5000")).toBe("c");
    expect(await d.drain("cl")).toEqual(["b", "d"]);
    d.close();
  });

  test("abort puts the oldest open item back at the head and leaves the others open", async () => {
    const c = await server().client();
    await c.setEach("ab", ["a", "b", "c"]);
    expect(await c.get("ab/open")).toBe("a");
    expect(await c.get("ab/open")).toBe("b");
    expect(await c.get("ab/abort")).toBeNull();
    expect(await openCount(c, "ab")).toBe("1");
    expect(await c.get("ab/peek")).toBe("a");
    // b is still open; the place a left is free again.
    expect(await c.get("ab/open")).toBe("a");
    expect(await c.call("get ab/open")).toBe("ERROR");
    expect(await c.get("ab/close")).toBeNull();
    expect(await c.get("ab/close")).toBeNull();
    expect(await openCount(c, "ab")).toBe("0");
    expect(await c.drain("ab")).toEqual(["c"]);
    // With nothing open both are still accepted.
    expect(await c.get("ab/abort")).toBeNull();
    expect(await c.get("ab/close")).toBeNull();
    c.close();
  });

  test("close/open at the limit confirms the oldest and opens the next", async () => {
    const c = await server().client();
    await c.setEach("co", ["a", "b", "c", "d"]);
    expect(await c.get("co/open")).toBe("a");
    expect(await c.get("co/open")).toBe("b");
    expect(await c.get("co/close/open")).toBe("c");
    expect(await c.get("co/close/open")).toBe("d");
    expect(await openCount(c, "co")).toBe("2");
    c.close();
    const d = await server().client();
    expect(await d.get("co/t=5000")).toBe("d");
    expect(await d.drain("co")).toEqual(["c"]);
    d.close();
  });
});

test("a dropped connection returns every item it held open as if aborting each in turn, oldest first, as Kestrel does: a waiter gets the oldest, the newest ends at the head", async () => {
  const holder = await server().client();
  const waiter = await server().client();
  await holder.setEach("drop", ["a", "b", "c"]);
  for (const item of ["a", "b", "c"]) expect(await holder.get(`drop/open`)).toBe(item);
  await holder.setEach("drop2", ["x", "y"]);
  expect(await holder.get("drop2/open")).toBe("x");
  expect(await holder.get("drop2/open")).toBe("y");
  await waiter.send("get drop/t=10000\r\n");
  await holder.untilQueueStat("drop", "waiters", 1);
  holder.close();
  expect(Buffer.from((await waiter.readValue())!.data).toString()).toBe("a");
  expect(await waiter.drain("drop")).toEqual(["c", "b"]);
  expect(await waiter.drain("drop2")).toEqual(["y", "x"]);
  expect(await openCount(waiter, "drop")).toBe("0");
  waiter.close();
});

test("reload changes the limit for the next open; items already open stay open", async () => {
  const dir = tempDir();
  const configPath = join(dir, "kestrel.toml");
  const own = await ServerProcess.start({ config: "max_open_transactions = 2\n", configPath });
  try {
    const c = await own.client();
    await c.setEach("r", ["a", "b", "c", "d"]);
    expect(await c.get("r/open")).toBe("a");
    expect(await c.get("r/open")).toBe("b");
    writeFileSync(configPath, "max_open_transactions = 1\n");
    expect(await c.call("reload")).toBe("Reloaded config.");
    expect(await c.call("get r/open")).toBe("ERROR");
    expect(await c.get("r/close")).toBeNull();
    expect(await c.call("get r/open")).toBe("ERROR");
    expect(await c.get("r/close/open")).toBe("c");
    writeFileSync(configPath, "max_open_transactions = 3\n");
    expect(await c.call("reload")).toBe("Reloaded config.");
    expect(await c.get("r/open")).toBe("d");
    await c.untilQueueStat("r", "open_transactions", 2);
    c.close();
  } finally {
    expect(await own.stop()).toBe(0);
    own.removeData();
  }
});
