import { describe, expect, test } from "bun:test";
import { seededRandom } from "../helpers/bytes.ts";
import { TestClient } from "../helpers/client.ts";
import { serverForFile } from "../helpers/server.ts";

const CONFIG = `
max_request_size = "32MiB"
expiration_timer_frequency = "20ms"
timeout = 1

[queues.small]
max_items = 2

[queues.bytes]
max_size = 10
max_item_size = 8

[queues.rolling]
max_items = 2
discard_old_when_full = true

[queues.aging]
max_age = "100ms"
move_expired_to = "graveyard"

[queues.timeless]
ignore_client_expiry = true
`;

const server = serverForFile({ config: CONFIG });

describe("limits", () => {
  test("max_items refuses with NOT_STORED", async () => {
    const c = await server().client();
    expect(await c.set("small", "1")).toBe("STORED");
    expect(await c.set("small", "2")).toBe("STORED");
    expect(await c.set("small", "3")).toBe("NOT_STORED");
    c.close();
  });

  test("max_size and max_item_size refuse with NOT_STORED", async () => {
    const c = await server().client();
    expect(await c.set("bytes", "123456789")).toBe("NOT_STORED");
    expect(await c.set("bytes", "12345678")).toBe("STORED");
    expect(await c.set("bytes", "123")).toBe("NOT_STORED");
    expect(await c.set("bytes", "12")).toBe("STORED");
    c.close();
  });

  test("discard_old_when_full keeps the newest items", async () => {
    const c = await server().client();
    for (const d of ["a", "b", "c"]) expect(await c.set("rolling", d)).toBe("STORED");
    expect(await c.get("rolling")).toBe("b");
    expect((await c.stats()).get("queue_rolling_discarded")).toBe("1");
    c.close();
  });

  test("max_age expires items, the timer sweeps them into move_expired_to", async () => {
    const c = await server().client();
    await c.set("aging", "stale");
    expect(await c.get("graveyard/t=5000")).toBe("stale");
    expect(await c.get("aging")).toBeNull();
    expect((await c.stats()).get("queue_aging_expired_items")).toBe("1");
    c.close();
  });

  test("ignore_client_expiry: a set's exptime is ignored on that queue only", async () => {
    const c = await server().client();
    // A negative exptime means already expired; so does unix second 1,000,000 (1970).
    for (const exptime of [-1, 1_000_000]) {
      expect(await c.set("timeless", "kept", exptime)).toBe("STORED");
      expect(await c.set("timed", "gone", exptime)).toBe("STORED");
    }
    expect(await c.drain("timeless")).toEqual(["kept", "kept"]);
    expect(await c.get("timed")).toBeNull();
    c.close();
  });

  test("a 20 MB item goes in and out intact", async () => {
    const random = seededRandom(20);
    const data = new Uint8Array(20 * 1024 * 1024).map(() => Math.floor(random() * 256));
    // Connected once the data is made (about a second): an idle connection is closed after timeout = 1.
    const c = await server().client();
    await c.send(Buffer.concat([Buffer.from(`set huge 0 0 ${data.length}\r\n`), data, Buffer.from("\r\n")]));
    expect(await c.readLine()).toBe("STORED");
    await c.send("get huge\r\n");
    const value = await c.readValue();
    expect(value!.data.length).toBe(data.length);
    expect(Bun.hash.crc32(value!.data)).toBe(Bun.hash.crc32(data));
    c.close();
  });

  test("a slow reader gets every byte, in order", async () => {
    const c = await TestClient.connect(server().port, "127.0.0.1", 2);
    const items = Array.from({ length: 200 }, (_, i) => `${i}:`.padEnd(50_000, String.fromCharCode(97 + (i % 26))));
    for (const item of items) await c.send(`set slow 0 0 ${item.length}\r\n${item}\r\n`);
    for (let i = 0; i < items.length; i++) expect(await c.readLine()).toBe("STORED");
    // Ask for everything at once (10 MB of replies) and read it slowly.
    await c.send("get slow\r\n".repeat(items.length));
    for (const item of items) {
      const value = await c.readValue();
      expect(Buffer.from(value!.data).toString()).toBe(item);
    }
    c.close();
  });

  test("idle connections are closed after the timeout", async () => {
    const c = await server().client();
    await c.closed;
  });
});

describe("garbage", () => {
  test("random bytes never crash the server and every command still works after", async () => {
    const random = seededRandom(1234);
    for (let round = 0; round < 50; round++) {
      const c = await TestClient.connect(server().port);
      const junk = new Uint8Array(1 + Math.floor(random() * 3000)).map(() => Math.floor(random() * 256));
      await c.send(junk).catch(() => {});
      c.close();
    }
    const c = await server().client();
    expect(await c.call("version")).toMatch(/^VERSION /);
    expect(await c.set("after-garbage", "ok")).toBe("STORED");
    expect(await c.get("after-garbage")).toBe("ok");
    c.close();
  });
});
