/**
 * The text port's bounds and life cycle on real servers: lines and puts past their limits,
 * pipelining, items that survive a kill -9, open items and waits of connections that go away,
 * and the port staying closed unless text_port is set.
 */
import { describe, expect, test } from "bun:test";
import type { TestClient } from "../../helpers/client.ts";
import { ServerProcess, freePort, serverForFile } from "../../helpers/server.ts";

const server = serverForFile({ config: `text_port = ${freePort()}\nmax_request_size = "4KiB"\n` });

async function readLines(client: TestClient, count: number): Promise<string[]> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(await client.readLine());
  return lines;
}

describe("text port bounds", () => {
  test("a command line over 8 KiB is answered and the connection closed", async () => {
    const c = await server().textClient();
    await c.send(`get ${"q".repeat(9000)}`);
    expect(await c.readLine()).toBe("-Line too long; limit=8192");
    expect((await c.rest()).length).toBe(0);
  });

  test("a put whose items pass max_request_size is answered and the connection closed; nothing is stored", async () => {
    const c = await server().textClient();
    await c.send(`put big:\n${"a".repeat(3000)}\n${"b".repeat(2000)}\n\nget big\n`);
    expect(await c.readLine()).toBe("-Items too large; limit=4096 bytes");
    expect((await c.rest()).length).toBe(0);
    const d = await server().textClient();
    await d.send("peek big\n");
    expect(await d.readLine()).toBe("*");
    d.close();
  });

  test("a put of 1025 items is refused whole and the stream goes on; 1024 are stored", async () => {
    const c = await server().textClient();
    await c.send(`put many:\n${"i\n".repeat(1025)}\nput many:\n${"j\n".repeat(1024)}\npeek many\n`);
    expect(await readLines(c, 3)).toEqual(["-Too many items; limit=1024", "+1024", ":j"]);
    c.close();
  });

  test("pipelined requests, sent a byte at a time, are answered in order", async () => {
    const c = await server().textClient();
    const stream = "put p:\r\none\r\ntwo \xff\n\r\nget p\nget p 1\r\nget p 1\nconfirm p 1\nversion\n";
    for (const byte of Buffer.from(stream, "latin1")) await c.send(new Uint8Array([byte]));
    const [count, one, two, none, confirmed, version] = await readLines(c, 6);
    expect([count, one, two, none, confirmed]).toEqual(["+2", ":one", ":two \xff", "*", "-Not that many transactions open."]);
    expect(version).toMatch(/^:/);
    c.close();
  });
});

describe("text port life cycle", () => {
  test("an item a monitor opened goes back to the queue when the connection closes", async () => {
    const c = await server().textClient();
    await c.send("put mon:\nx\n\nmonitor mon 60000\n");
    expect(await readLines(c, 3)).toEqual(["+1", ":x", "*"]);
    c.close();
    const d = await server().textClient();
    await d.send("get mon 60000\n");
    expect(await d.readLine()).toBe(":x");
    d.close();
  });

  test("a connection that leaves while its get waits takes no item", async () => {
    const waiter = await server().textClient();
    const m = await server().client();
    await waiter.send("get w 60000\n");
    // Each stats is a round trip: the loops end when the server has seen the wait, then the close.
    for (;;) if ((await m.stats()).get("queue_w_waiters") === "1") break;
    waiter.close();
    for (;;) if ((await m.stats()).get("queue_w_waiters") === "0") break;
    expect(await m.set("w", "kept")).toBe("STORED");
    expect(await m.get("w")).toBe("kept");
    m.close();
  });

  test("a put is on disk once answered: it survives kill -9, and reads on the memcache port", async () => {
    const s = await ServerProcess.start({ config: `text_port = ${freePort()}\n` });
    const c = await s.textClient();
    await c.send("put durable:\nfirst\nsecond\n\nget durable\n");
    expect(await readLines(c, 2)).toEqual(["+2", ":first"]);
    await s.kill9();
    const again = await s.restart();
    const m = await again.client();
    // first was open, never confirmed: it is back.
    expect(await m.get("durable")).toBe("first");
    expect(await m.get("durable")).toBe("second");
    m.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("without text_port there is no text listener", async () => {
    const s = await ServerProcess.start();
    expect(await s.stop()).toBe(0);
    expect(s.output).not.toMatch(/text protocol on/);
    s.removeData();
  });
});
