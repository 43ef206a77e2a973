import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";
import { ServerProcess } from "../helpers/server.ts";

/** Sets `count` items pipelined in batches, returning the acknowledged ones in order. */
async function fill(c: TestClient, queue: string, count: number, prefix: string): Promise<string[]> {
  const acked: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const batch = Array.from({ length: Math.min(100, count - start) }, (_, i) => `${prefix}-${start + i}`);
    await c.send(batch.map((d) => `set ${queue} 0 0 ${d.length}\r\n${d}\r\n`).join(""));
    for (const d of batch) {
      expect(await c.readLine()).toBe("STORED");
      acked.push(d);
    }
  }
  return acked;
}

describe("durability", () => {
  for (const policy of ["never", "always", "10ms"]) {
    test(`kill -9 keeps every acknowledged item (sync_journal = ${policy})`, async () => {
      const server = await ServerProcess.start({ config: `sync_journal = "${policy}"\n` });
      const c = await server.client();
      const acked = await fill(c, "dur", 1000, policy);
      for (let i = 0; i < 300; i++) expect(await c.get("dur")).toBe(acked[i]!);
      await server.kill9();
      const again = await server.restart();
      const c2 = await again.client();
      expect(await c2.drain("dur")).toEqual(acked.slice(300));
      c2.close();
      expect(await again.stop()).toBe(0);
      again.removeData();
    });
  }

  test("sync_journal = always over 20 queues at once: their fsyncs go out as one syncfs; kill -9 keeps every acknowledged item", async () => {
    const server = await ServerProcess.start({ config: 'sync_journal = "always"\n' });
    const clients = await Promise.all(Array.from({ length: 20 }, () => server.client()));
    const acked: string[][] = clients.map(() => []);
    // The syncfs worker starts on the first group and serves once it has answered: fill until it did.
    for (let round = 0; ; round++) {
      const filled = await Promise.all(clients.map((c, i) => fill(c, `many${i}`, 100, `q${i}-${round}`)));
      for (const [i, items] of filled.entries()) acked[i]!.push(...items);
      if (process.platform !== "linux" || Number((await clients[0]!.stats()).get("journal_syncfs")) > 0) break;
      expect(round).toBeLessThan(200);
    }
    for (const c of clients) c.close();
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    for (const [i, items] of acked.entries()) expect(await c2.drain(`many${i}`)).toEqual(items);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a 12 MiB item sent in pieces to a parent with fanout children survives kill -9 in every queue", async () => {
    // Assembled (and its CRC worked out) as it arrives, written to 3 journals over several turns.
    const server = await ServerProcess.start({ config: `max_memory_size = "4MiB"\n` });
    const c = await server.client();
    for (const child of ["big+a", "big+b"]) expect(await c.get(child)).toBeNull();
    const data = new Uint8Array(12 << 20).map((_, i) => (i * 7 + (i >> 12)) % 256);
    await c.send(`set big 0 0 ${data.length}\r\n`);
    for (let at = 0; at < data.length; at += 300_000) await c.send(data.subarray(at, at + 300_000));
    await c.send("\r\n");
    expect(await c.readLine()).toBe("STORED");
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    for (const queue of ["big", "big+a", "big+b"]) {
      await c2.send(`get ${queue}\r\n`);
      const value = await c2.readValue();
      expect(value?.data.length).toBe(data.length);
      expect(Bun.hash.crc32(value!.data)).toBe(Bun.hash.crc32(data));
    }
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a graceful stop and restart keeps items, order, and open items at the head", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    for (const d of ["a", "b", "c", "d"]) await c.set("g", d);
    expect(await c.get("g")).toBe("a");
    expect(await c.get("g/open")).toBe("b");
    await c.set("g+child", "own");
    expect(await server.stop()).toBe(0);
    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.drain("g")).toEqual(["b", "c", "d"]);
    expect(await c2.drain("g+child")).toEqual(["own"]);
    c2.close();
    await again.stop();
    again.removeData();
  });

  test("an open transaction survives kill -9 and comes back at the head", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    for (const d of ["x", "y"]) await c.set("tx", d);
    expect(await c.get("tx/open")).toBe("x");
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.drain("tx")).toEqual(["x", "y"]);
    c2.close();
    await again.stop();
    again.removeData();
  });

  test("fanout children exist again after a restart", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    expect(await c.get("parent+kid")).toBeNull();
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    await c2.set("parent", "hello");
    expect(await c2.get("parent+kid")).toBe("hello");
    c2.close();
    await again.stop();
    again.removeData();
  });

  test("a Kestrel-format journal in queue_path is loaded and served", async () => {
    const server = await ServerProcess.start();
    await server.stop();
    writeFileSync(
      join(server.dataDir, "legacy"),
      new KestrelJournalBuilder().addx("old-1").add("old-2").addx("old-3").remove().addx("old-4").removeTentative().build(),
    );
    writeFileSync(join(server.dataDir, "legacy.bak"), "not a journal");
    const again = await server.restart();
    const c = await again.client();
    expect(await c.drain("legacy")).toEqual(["old-2", "old-3", "old-4"]);
    expect((await c.stats()).has("queue_legacy.bak_items")).toBe(false);
    c.close();
    await again.stop();
    again.removeData();
  });

  test("a journal with a torn tail still starts and keeps every intact item", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    for (const d of ["one", "two"]) await c.set("torn", d);
    await server.kill9();
    const path = join(server.dataDir, "torn");
    const file = await Bun.file(path).bytes();
    writeFileSync(path, Buffer.concat([file, Buffer.from([1, 2, 3, 4, 0xa7, 1, 200, 0, 0])]));
    const again = await server.restart();
    expect(again.output).toContain("journal damaged");
    const c2 = await again.client();
    expect(await c2.drain("torn")).toEqual(["one", "two"]);
    c2.close();
    await again.stop();
    again.removeData();
  });
});
