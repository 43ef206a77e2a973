import { describe, expect, test } from "bun:test";
import { serverForFile } from "../helpers/server.ts";

const server = serverForFile();

describe("reliable reads", () => {
  test("open, then close confirms; close with nothing open is accepted", async () => {
    const c = await server().client();
    await c.set("r1", "a");
    await c.set("r1", "b");
    expect(await c.get("r1/open")).toBe("a");
    expect(await c.get("r1/close/open")).toBe("b");
    expect(await c.get("r1/close")).toBeNull();
    expect(await c.get("r1/close")).toBeNull();
    expect((await c.stats()).get("queue_r1_open_transactions")).toBe("0");
    expect(await c.get("r1")).toBeNull();
    c.close();
  });

  test("abort puts the item back at the head", async () => {
    const c = await server().client();
    await c.set("r2", "first");
    await c.set("r2", "second");
    expect(await c.get("r2/open")).toBe("first");
    expect(await c.get("r2/abort")).toBeNull();
    expect(await c.get("r2")).toBe("first");
    c.close();
  });

  test("a second open on the same queue is an error while one is pending (max_open_transactions = 1)", async () => {
    const c = await server().client();
    await c.set("r3", "x");
    await c.set("r3", "y");
    expect(await c.get("r3/open")).toBe("x");
    expect(await c.call("get r3/open")).toBe("ERROR");
    expect(await c.get("r3/close/open")).toBe("y");
    c.close();
  });

  test("two opens on one queue in one get are refused whole: no item is left open and untracked", async () => {
    const c = await server().client();
    await c.set("r3b", "x");
    await c.set("r3b", "y");
    expect(await c.call("get r3b/open r3b/open/t=1")).toBe("ERROR");
    expect((await c.stats()).get("queue_r3b_open_transactions")).toBe("0");
    expect(await c.get("r3b/open")).toBe("x");
    expect(await c.get("r3b/close")).toBeNull();
    expect(await c.get("r3b")).toBe("y");
    c.close();
  });

  test("an open item of a closed connection goes back to the head", async () => {
    const a = await server().client();
    await a.set("r4", "precious");
    await a.set("r4", "next");
    expect(await a.get("r4/open")).toBe("precious");
    a.close();
    const b = await server().client();
    // The abort happens when the server sees the close; a blocking get waits for it.
    expect(await b.get("r4/t=5000")).toBe("precious");
    expect(await b.get("r4")).toBe("next");
    b.close();
  });

  test("keys like jobs/open and jobs/close/open work from pipelined requests", async () => {
    const c = await server().client();
    await c.send("set jobs 0 0 1\r\n1\r\nset jobs 0 0 1\r\n2\r\nget jobs/open\r\nget jobs/close/open\r\nget jobs/close\r\n");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.readUntilEnd()).toEqual(["VALUE jobs/open 0 1", "1"]);
    expect(await c.readUntilEnd()).toEqual(["VALUE jobs/close/open 0 1", "2"]);
    expect(await c.readUntilEnd()).toEqual([]);
    c.close();
  });
});

describe("blocking gets", () => {
  test("a waiting get is served when an item arrives", async () => {
    const waiter = await server().client();
    const producer = await server().client();
    await waiter.send("get b1/t=10000\r\n");
    // Waiting is visible in stats before the producer sets.
    for (;;) {
      if ((await producer.stats()).get("queue_b1_waiters") === "1") break;
    }
    expect(await producer.set("b1", "wake")).toBe("STORED");
    expect(Buffer.from((await waiter.readValue())!.data).toString()).toBe("wake");
    waiter.close();
    producer.close();
  });

  test("waiters are served in arrival order", async () => {
    const producer = await server().client();
    const waiters = await Promise.all([0, 1, 2].map(() => server().client()));
    for (const [i, w] of waiters.entries()) {
      await w.send("get b2/t=10000\r\n");
      for (;;) if ((await producer.stats()).get("queue_b2_waiters") === String(i + 1)) break;
    }
    for (const data of ["a", "b", "c"]) await producer.set("b2", data);
    const got = await Promise.all(waiters.map(async (w) => Buffer.from((await w.readValue())!.data).toString()));
    expect(got).toEqual(["a", "b", "c"]);
    for (const w of [producer, ...waiters]) w.close();
  });

  test("a wait that times out answers END, and later requests wait their turn", async () => {
    const c = await server().client();
    await c.send("get b3/t=50\r\nset b3 0 0 1\r\nz\r\nget b3\r\n");
    expect(await c.readLine()).toBe("END");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.readUntilEnd()).toEqual(["VALUE b3 0 1", "z"]);
    c.close();
  });

  test("a blocking open gets the item as an open transaction", async () => {
    const c = await server().client();
    const p = await server().client();
    await c.send("get b4/open/t=10000\r\n");
    for (;;) if ((await p.stats()).get("queue_b4_waiters") === "1") break;
    await p.set("b4", "tx");
    expect(Buffer.from((await c.readValue())!.data).toString()).toBe("tx");
    expect((await p.stats()).get("queue_b4_open_transactions")).toBe("1");
    c.close();
    expect(await p.get("b4/t=5000")).toBe("tx");
    p.close();
  });

  test("a client that disconnects while waiting doesn't swallow an item", async () => {
    const c = await server().client();
    const p = await server().client();
    await c.send("get b5/t=10000\r\n");
    for (;;) if ((await p.stats()).get("queue_b5_waiters") === "1") break;
    c.close();
    for (;;) if ((await p.stats()).get("queue_b5_waiters") === "0") break;
    await p.set("b5", "kept");
    expect(await p.get("b5")).toBe("kept");
    p.close();
  });
});

describe("fanout", () => {
  test("children created by first reference get later items; deleting one stops delivery", async () => {
    const c = await server().client();
    await c.set("fan", "early");
    expect(await c.get("fan+a")).toBeNull();
    expect(await c.get("fan+b")).toBeNull();
    await c.set("fan", "late");
    expect(await c.get("fan")).toBe("early");
    expect(await c.get("fan")).toBe("late");
    expect(await c.get("fan+a")).toBe("late");
    expect(await c.get("fan+b")).toBe("late");
    expect(await c.call("delete fan+b")).toBe("DELETED");
    await c.set("fan", "last");
    expect(await c.get("fan+a")).toBe("last");
    expect((await c.stats()).has("queue_fan+b_items")).toBe(false);
    c.close();
  });
});
