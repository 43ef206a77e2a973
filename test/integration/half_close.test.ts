/**
 * Clients that half-close: write their requests, shut down their sending side (a TCP FIN, as
 * `printf 'get q\r\n' | nc -N host port` does) and read until the server closes. A FIN can't be
 * told from a client gone for good, so the server takes it as the end of the connection, as
 * memcached and Kestrel do: what it answers at once reaches the client, and no item is lost for a
 * reply that could not be sent; every item is either received or still queued.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { ServerProcess } from "../helpers/server.ts";

/** Writes `request`, half-closes once it is out (node:net's `end`, as nc -N does), and returns everything the server sent until it closed. */
function halfClosed(port: number, request: string): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  let received = "";
  const socket = connect(port, "127.0.0.1", () => socket.end(request));
  socket.on("data", (chunk: Buffer) => void (received += chunk.toString("latin1")));
  socket.on("close", () => resolve(received));
  socket.on("error", () => undefined);
  return promise;
}

// With `always` every reply that took an item waits for its record's fsync: the FIN comes first.
for (const [setting, config] of [["the default sync", ""], ["sync_journal = always", 'sync_journal = "always"\n']] as const) {
  describe(`a client that half-closes (${setting})`, () => {
    let server: ServerProcess;
    beforeAll(async () => {
      server = await ServerProcess.start({ config });
    });
    afterAll(async () => {
      expect(await server.stop()).toBe(0);
      server.removeData();
    });

    test("gets its replies, then the server closes", async () => {
      expect(await halfClosed(server.port, "version\r\n")).toMatch(/^VERSION \S+\r\n$/);
      const stats = await halfClosed(server.port, "stats\r\n");
      expect(stats).toStartWith("STAT pid ");
      expect(stats).toEndWith("END\r\n");
    });

    test("every item set is received by a half-closed reader or still queued: none lost, none twice", async () => {
      const producer = await server.client();
      const items = Array.from({ length: 20 }, (_, i) => `item${i}`);
      for (const item of items) expect(await producer.set("hc", item)).toBe("STORED");
      const received: string[] = [];
      for (let i = 0; i < items.length; i++) {
        const reply = await halfClosed(server.port, ["get hc\r\n", "get hc/t=500\r\n", "get hc\r\nget hc\r\n"][i % 3]!);
        received.push(...[...reply.matchAll(/VALUE hc\S* 0 \d+\r\n(\S+)\r\n/g)].map((match) => match[1]!));
      }
      const left = await producer.drain("hc");
      expect([...received, ...left].sort()).toEqual([...items].sort());
      producer.close();
    });

    test("a blocking get sent before the FIN ends with the connection: the item that comes later stays queued", async () => {
      const producer = await server.client();
      await halfClosed(server.port, "get later/t=30000\r\n");
      while ((await producer.stats()).get("queue_later_waiters") !== "0");
      expect(await producer.set("later", "kept")).toBe("STORED");
      expect(await producer.drain("later")).toEqual(["kept"]);
      producer.close();
    });

    test("an item opened by a half-closed client goes back to the queue", async () => {
      const producer = await server.client();
      expect(await producer.set("opened", "reliable")).toBe("STORED");
      await halfClosed(server.port, "get opened/open\r\n");
      while ((await producer.stats()).get("queue_opened_open_transactions") !== "0");
      expect(await producer.drain("opened")).toEqual(["reliable"]);
      producer.close();
    });
  });
}
