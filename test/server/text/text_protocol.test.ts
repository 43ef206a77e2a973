/**
 * The text protocol over TCP against a real server: Kestrel 2's replies and its transactional
 * fetches (TextHandler.scala), over the same queues as the memcache port.
 */
import { describe, expect, test } from "bun:test";
import type { TestClient } from "../../helpers/client.ts";
import { freePort, serverForFile } from "../../helpers/server.ts";

const server = serverForFile({
    config: `text_port = ${freePort()}\n[queues.several]\nmax_open_transactions = 3\n[aliases.both]\ndestination_queues = ["x1", "x2"]\n`,
  });

/** Sends `request` (lines joined with LF, plus a final LF) and reads `replies` reply lines. */
async function ask(client: TestClient, request: string, replies = 1): Promise<string[]> {
  await client.send(`${request}\n`);
  const lines: string[] = [];
  for (let i = 0; i < replies; i++) lines.push(await client.readLine());
  return lines;
}

/** How many items are open on `queue` (its stat, read over the memcache port). */
async function openItems(queue: string): Promise<number> {
  const m = await server().client();
  const stats = await m.stats();
  m.close();
  return Number(stats.get(`queue_${queue}_open_transactions`));
}

/** Puts `items` on `queue` and checks they were all stored. */
async function put(client: TestClient, queue: string, ...items: string[]): Promise<void> {
  expect(await ask(client, `put ${queue}:\n${items.join("\n")}\n`)).toEqual([`+${items.length}`]);
}

describe("text protocol", () => {
  test("put and get: +<count>, :<item>, * for none", async () => {
    const c = await server().textClient();
    expect(await ask(c, "put t1:\nhello\r\nworld\n")).toEqual(["+2"]);
    expect(await ask(c, "get t1")).toEqual([":hello"]);
    expect(await ask(c, "GET t1")).toEqual([":world"]);
    expect(await ask(c, "get t1")).toEqual(["*"]);
    c.close();
  });

  test("items put over text are read over memcache and back, as the same queue and bytes", async () => {
    const t = await server().textClient();
    const m = await server().client();
    await put(t, "t2", "from text \x01\xff");
    expect(await m.call("get t2")).toBe(`VALUE t2 0 ${"from text \x01\xff".length}`);
    expect(await m.readLine()).toBe("from text \x01\xff");
    expect(await m.readLine()).toBe("END");
    expect(await m.set("t2", "from memcache", 0, 7)).toBe("STORED");
    expect(await ask(t, "get t2")).toEqual([":from memcache"]);
    t.close();
    m.close();
  });

  test("every get confirms what the connection holds open on the queue; a disconnect returns the rest", async () => {
    const c = await server().textClient();
    await put(c, "t3", "a", "b");
    expect(await ask(c, "get t3")).toEqual([":a"]);
    expect(await openItems("t3")).toBe(1);
    expect(await ask(c, "get t3")).toEqual([":b"]); // confirms a
    expect(await openItems("t3")).toBe(1);
    c.close();
    const d = await server().textClient();
    // b was open when the connection closed: it comes back to the (empty) queue.
    expect(await ask(d, "get t3 60000")).toEqual([":b"]);
    expect(await ask(d, "get t3")).toEqual(["*"]); // confirms b
    expect(await openItems("t3")).toBe(0);
    d.close();
  });

  test("peek shows the head without taking it, and confirms too", async () => {
    const c = await server().textClient();
    await put(c, "t4", "a", "b");
    expect(await ask(c, "get t4")).toEqual([":a"]);
    expect(await ask(c, "peek t4")).toEqual([":b"]);
    expect(await openItems("t4")).toBe(0);
    expect(await ask(c, "peek t4")).toEqual([":b"]);
    expect(await ask(c, "get t4")).toEqual([":b"]);
    c.close();
  });

  test("a get with a timeout waits for an item from another connection", async () => {
    const waiting = await server().textClient();
    const putter = await server().textClient();
    await waiting.send("get t5 60000\n");
    await put(putter, "t5", "late");
    expect(await waiting.readLine()).toBe(":late");
    expect(await ask(waiting, "get t5 1")).toEqual(["*"]);
    waiting.close();
    putter.close();
  });

  test("confirm <queue> <count>: all or none, +<count>", async () => {
    const c = await server().textClient();
    await put(c, "t6", "a", "b");
    expect(await ask(c, "confirm t6 1")).toEqual(["-Not that many transactions open."]);
    expect(await ask(c, "get t6")).toEqual([":a"]);
    expect(await ask(c, "confirm t6 2")).toEqual(["-Not that many transactions open."]);
    expect(await ask(c, "confirm t6 0")).toEqual(["-Not that many transactions open."]);
    expect(await ask(c, "confirm t6 -1")).toEqual(["-Not that many transactions open."]);
    expect(await openItems("t6")).toBe(1);
    expect(await ask(c, "confirm t6 1")).toEqual(["+1"]);
    expect(await openItems("t6")).toBe(0);
    expect(await ask(c, "confirm t6 1")).toEqual(["-Not that many transactions open."]);
    expect(await ask(c, "get t6")).toEqual([":b"]);
    c.close();
  });

  test("monitor opens up to max_open_transactions items, each as it comes, then *", async () => {
    const c = await server().textClient();
    await put(c, "t7", "a", "b");
    // max_open_transactions = 1 (the default): one item, then the end.
    expect(await ask(c, "monitor t7 60000", 2)).toEqual([":a", "*"]);
    expect(await ask(c, "monitor t7 60000", 2)).toEqual([":b", "*"]); // a confirmed
    expect(await ask(c, "monitor t7 10")).toEqual(["*"]);
    expect(await ask(c, "monitor t7 0")).toEqual(["*"]);

    c.close();
  });

  test("errors are -<message> lines, as Kestrel words them, and the connection stays open", async () => {
    const c = await server().textClient();
    expect(
      await ask(c, ["get", "get q x", "peek", "monitor q", "monitor q 1x", "confirm q", "confirm q 1.5", "put:\n", "put q 1e3:\na\n", "flush", "delete", "bogus x", ""].join("\n"), 13),
    ).toEqual([
      "-Queue name required.",
      "-Error parsing timeout.",
      "-Queue name required.",
      "-Queue name & timeout required.",
      "-Error parsing timeout.",
      "-Queue name & count required.",
      "-Error parsing count.",
      "-Queue name required.",
      "-Error parsing expiration time.",
      "-Queue name required.",
      "-Queue name required.",
      "-Unknown command: bogus",
      "-Unknown command: ",
    ]);
    expect(await ask(c, "get bad/name")).toEqual(["-bad queue name 'bad/name'"]);
    expect(await ask(c, "version")).toEqual([expect.stringMatching(/^:\d+\.\d+\.\d+/)]);
    c.close();
  });

  test("Kestrel 2 queue names, fanout children and aliases work as on the memcache port", async () => {
    const c = await server().textClient();
    expect(await ask(c, "peek fan+child")).toEqual(["*"]); // creates the child
    await put(c, "a:b", "colon");
    expect(await ask(c, "get a:b")).toEqual([":colon"]);
    await put(c, "fan", "to both");
    expect(await ask(c, "get fan+child")).toEqual([":to both"]);
    await put(c, "both", "aliased");
    expect(await ask(c, "get x1")).toEqual([":aliased"]);
    expect(await ask(c, "get x2")).toEqual([":aliased"]);
    expect(await ask(c, "get both 60000")).toEqual(["*"]); // an alias takes only puts; no wait
    c.close();
  });

  test("put with an expiration in milliseconds; one already past stores an item nobody gets", async () => {
    const c = await server().textClient();
    expect(await ask(c, "put t8 -1:\ngone\n")).toEqual(["+1"]);
    expect(await ask(c, "put t8 600000:\nkept\n")).toEqual(["+1"]);
    expect(await ask(c, "get t8")).toEqual([":kept"]);
    c.close();
  });

  test("flush and delete reply +0", async () => {
    const c = await server().textClient();
    await put(c, "t9", "a");
    expect(await ask(c, "flush t9")).toEqual(["+0"]);
    expect(await ask(c, "get t9")).toEqual(["*"]);
    await put(c, "t9", "b");
    expect(await ask(c, "delete t9")).toEqual(["+0"]);
    expect(await ask(c, "peek t9")).toEqual(["*"]);
    c.close();
  });

  test("quit closes the connection without a reply", async () => {
    const c = await server().textClient();
    await c.send("quit\n");
    expect((await c.rest()).length).toBe(0);
  });

  test("text connections are counted with the others", async () => {
    const t = await server().textClient();
    await ask(t, "version");
    const m = await server().client();
    const stats = await m.stats();
    expect(Number(stats.get("curr_connections"))).toBeGreaterThanOrEqual(2);
    t.close();
    m.close();
  });
});
