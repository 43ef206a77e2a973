/**
 * `monitor <queue> <seconds> [max_items]` and `confirm <queue> <count>` over TCP against a real
 * server, as Kestrel 2's memcache front end has them: items opened as they come and answered as
 * VALUE lines at once, END when the time, max_items or max_open_transactions says so; confirm of
 * the oldest, all or none; the status gate; and a dropped connection returning what a monitor
 * opened.
 */
import { describe, expect, test } from "bun:test";
import { serverForFile } from "../helpers/server.ts";

const CONFIG = `
[queues.three]
max_open_transactions = 3
[queues.three_dropped]
max_open_transactions = 3
[queues.three_lenient]
max_open_transactions = 3
[queues.wide]
max_open_transactions = 10
[queues.wide2]
max_open_transactions = 10
[queues.wide3]
max_open_transactions = 10
[aliases.feed]
destination_queues = ["fed"]
`;

const server = serverForFile({ config: CONFIG });

describe("monitor", () => {
  test("with max_open_transactions = 1 it opens one item: VALUE then END, and confirm settles it", async () => {
    const c = await server().client();
    await c.setEach("m1", ["a", "b"]);
    await c.send("monitor m1 10\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE m1 0 1", "a"]);
    expect(await c.queueStat("m1", "open_transactions")).toBe("1");
    expect(await c.call("confirm m1 1")).toBe("END");
    expect(await c.queueStat("m1", "open_transactions")).toBe("0");
    expect(await c.drain("m1")).toEqual(["b"]);
    c.close();
  });

  test("items waiting are answered at once; later ones as they come; END once the open limit is reached", async () => {
    const c = await server().client();
    const producer = await server().client();
    await producer.setEach("three", ["a", "b"]);
    await c.send("monitor three 60\r\n");
    // Both lines come before any END: the monitor is still waiting for a third item.
    expect(await c.readLine()).toBe("VALUE three 0 1");
    expect(await c.readLine()).toBe("a");
    expect(await c.readLine()).toBe("VALUE three 0 1");
    expect(await c.readLine()).toBe("b");
    await producer.untilQueueStat("three", "waiters", 1);
    await producer.setEach("three", ["c", "d"]);
    expect(await c.readUntilEnd()).toEqual(["VALUE three 0 1", "c"]);
    expect(await producer.queueStat("three", "open_transactions")).toBe("3");
    expect(await producer.queueStat("three", "items")).toBe("1");
    // At the limit, a monitor opens nothing and a get/open is refused.
    expect(await c.call("monitor three 60")).toBe("END");
    expect(await c.call("get three/open")).toBe("ERROR");
    expect(await c.call("confirm three 3")).toBe("END");
    expect(await producer.queueStat("three", "open_transactions")).toBe("0");
    expect(await producer.drain("three")).toEqual(["d"]);
    c.close();
    producer.close();
  });

  test("max_items bounds it below the open limit, and an empty queue is answered END when the time is up", async () => {
    const c = await server().client();
    await c.setEach("wide", ["1", "2", "3"]);
    await c.send("monitor wide 60 2\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE wide 0 1", "1", "VALUE wide 0 1", "2"]);
    await c.send("monitor wide 1 5\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE wide 0 1", "3"]);
    expect(await c.queueStat("wide", "open_transactions")).toBe("3");
    await c.send("monitor wide 1\r\n");
    expect(await c.readUntilEnd()).toEqual([]);
    expect(await c.call("confirm wide 3")).toBe("END");
    c.close();
  });

  test("0 seconds or 0 max_items open nothing; requests after a monitor wait for its END", async () => {
    const c = await server().client();
    await c.setEach("zero", ["x"]);
    expect(await c.call("monitor zero 0")).toBe("END");
    expect(await c.call("monitor zero 10 0")).toBe("END");
    expect(await c.queueStat("zero", "open_transactions")).toBe("0");
    await c.send("monitor zero 10\r\nversion\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE zero 0 1", "x"]);
    expect(await c.readLine()).toStartWith("VERSION ");
    expect(await c.get("zero/close")).toBeNull();
    c.close();
  });

  test("the item's flags come back as set; a monitor with no time or no items to wait for creates no queue", async () => {
    const c = await server().client();
    expect(await c.set("flagged", "f", 0, 42)).toBe("STORED");
    await c.send("monitor flagged 5\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE flagged 42 1", "f"]);
    expect(await c.call("monitor brand_new 0")).toBe("END");
    expect(await c.call("monitor brand_new 5 0")).toBe("END");
    expect(await c.queueStat("brand_new", "items")).toBeUndefined();
    c.close();
  });

  test("a connection dropped while its monitor waits returns what the monitor opened and leaves no waiter", async () => {
    const c = await server().client();
    const other = await server().client();
    await other.setEach("three_dropped", ["a", "b"]);
    await c.send("monitor three_dropped 60\r\n");
    await other.untilQueueStat("three_dropped", "waiters", 1);
    expect(await other.queueStat("three_dropped", "open_transactions")).toBe("2");
    c.close();
    await other.untilQueueStat("three_dropped", "waiters", 0);
    // Aborted oldest first, as Kestrel's cancelAll: the newest ends up at the head.
    expect(await other.get("three_dropped/t=5000")).toBe("b");
    expect(await other.drain("three_dropped")).toEqual(["a"]);
    other.close();
  });

  test("on an alias it answers END at once and creates no queue; its destination is monitored as any queue", async () => {
    const c = await server().client();
    expect(await c.set("feed", "x")).toBe("STORED");
    expect(await c.call("monitor feed 60")).toBe("END");
    expect(await c.call("confirm feed 1")).toBe("ERROR");
    expect(await c.queueStat("feed", "items")).toBeUndefined();
    await c.send("monitor fed 60\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE fed 0 1", "x"]);
    expect(await c.call("confirm fed 1")).toBe("END");
    c.close();
  });

  test("numbers as Kestrel reads them: negative seconds end at once, negative max_items mean the open limit, extra words are ignored", async () => {
    const c = await server().client();
    await c.setEach("three_lenient", ["a", "b", "c", "d"]);
    await c.send("monitor three_lenient -5\r\n");
    expect(await c.readUntilEnd()).toEqual([]);
    await c.send("monitor three_lenient 60 -1 extra\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE three_lenient 0 1", "a", "VALUE three_lenient 0 1", "b", "VALUE three_lenient 0 1", "c"]);
    expect(await c.call("confirm three_lenient -1")).toBe("ERROR");
    expect(await c.call("confirm three_lenient 3 extra")).toBe("END");
    expect(await c.queueStat("three_lenient", "open_transactions")).toBe("0");
    c.close();
  });

  test("bad arguments are CLIENT_ERROR and the connection stays open", async () => {
    const c = await server().client();
    for (const request of ["monitor", "monitor q", "monitor q x", "monitor q 1 x", "monitor q 1.5"]) {
      expect(await c.call(request)).toBe("CLIENT_ERROR usage: monitor <queue> <seconds> [max_items]");
    }
    expect(await c.call("monitor a/b 1")).toBe("CLIENT_ERROR bad queue name 'a/b'");
    expect(await c.call("version")).toStartWith("VERSION ");
    c.close();
  });
});

describe("confirm", () => {
  test("confirms the oldest count items; more than are open, or 0, confirms none and is ERROR", async () => {
    const c = await server().client();
    await c.setEach("wide2", ["1", "2", "3", "4"]);
    for (const item of ["1", "2", "3"]) expect(await c.get("wide2/open")).toBe(item);
    expect(await c.call("confirm wide2 4")).toBe("ERROR");
    expect(await c.call("confirm wide2 0")).toBe("ERROR");
    expect(await c.queueStat("wide2", "open_transactions")).toBe("3");
    expect(await c.call("confirm wide2 2")).toBe("END");
    expect(await c.queueStat("wide2", "open_transactions")).toBe("1");
    c.close();
    // 3 was still open: it comes back ahead of 4; 1 and 2 are gone.
    const d = await server().client();
    expect(await d.get("wide2/t=5000")).toBe("3");
    expect(await d.drain("wide2")).toEqual(["4"]);
    expect(await d.call("confirm wide2 1")).toBe("ERROR");
    expect(await d.call("confirm never_used 1")).toBe("ERROR");
    d.close();
  });

  test("bad arguments are CLIENT_ERROR", async () => {
    const c = await server().client();
    for (const request of ["confirm", "confirm q", "confirm q x", "confirm q 1x"]) {
      expect(await c.call(request)).toBe("CLIENT_ERROR usage: confirm <queue> <count>");
    }
    expect(await c.call("confirm a/b 1")).toBe("CLIENT_ERROR bad queue name 'a/b'");
    c.close();
  });
});

describe("server status", () => {
  test("quiescent refuses a monitor, ends one that waits with END, and still lets confirm settle items", async () => {
    const c = await server().client();
    const admin = await server().client();
    try {
      await admin.setEach("wide3", ["a"]);
      await c.send("monitor wide3 60 5\r\n");
      expect(await c.readLine()).toBe("VALUE wide3 0 1");
      expect(await c.readLine()).toBe("a");
      await admin.untilQueueStat("wide3", "waiters", 1);
      expect(await admin.call("status quiescent")).toBe("END");
      expect(await c.readLine()).toBe("END");
      expect(await c.call("monitor wide3 60")).toBe("SERVER_ERROR server is quiescent: gets are refused");
      expect(await c.call("confirm wide3 1")).toBe("END");
      expect(await admin.queueStat("wide3", "open_transactions")).toBe("0");
    } finally {
      expect(await admin.call("status up")).toBe("END");
    }
    c.close();
    admin.close();
  });
});
