/**
 * Queues far bigger than max_memory_size, through a real server: order, content and count across
 * graceful restarts and kill -9, memory that doesn't follow the backlog, and journals that shrink
 * once drained.
 */
import { describe, expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { journalBytes } from "../helpers/journal.ts";
import { expectMemoryNotToFollowBacklog, residentMiB } from "../helpers/memory.ts";
import { ServerProcess } from "../helpers/server.ts";

const CONFIG = `max_memory_size = "256KiB"\nmax_journal_size = "1MiB"\nmax_journal_overflow = 3\n`;
const item = (i: number) => `${i}:`.padEnd(1024, String.fromCharCode(97 + (i % 26)));

async function fill(c: TestClient, queue: string, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 200) {
    const end = Math.min(to, start + 200);
    let request = "";
    for (let i = start; i < end; i++) request += `set ${queue} 0 0 1024\r\n${item(i)}\r\n`;
    await c.send(request);
    for (let i = start; i < end; i++) expect(await c.readLine()).toBe("STORED");
  }
}

async function drain(c: TestClient, queue: string, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const value = await c.get(queue);
    if (value !== item(i)) throw new Error(`item ${i}: got ${value?.slice(0, 20)}`);
  }
}

describe("a backlog 16x max_memory_size", () => {
  test("stays in order across a graceful restart and a kill -9, and its files shrink once drained", async () => {
    let server = await ServerProcess.start({ config: CONFIG });
    let c = await server.client();
    await fill(c, "big", 0, 4000);
    let stats = await c.stats();
    expect(stats.get("queue_big_items")).toBe("4000");
    expect(Number(stats.get("queue_big_mem_bytes"))).toBeLessThanOrEqual(256 * 1024);
    await drain(c, "big", 0, 500);
    c.close();
    expect(await server.stop()).toBe(0);

    server = await server.restart();
    c = await server.client();
    stats = await c.stats();
    expect(stats.get("queue_big_items")).toBe("3500");
    expect(Number(stats.get("queue_big_mem_bytes"))).toBeLessThanOrEqual(256 * 1024 + 1024);
    await drain(c, "big", 500, 1500);
    await fill(c, "big", 4000, 5000);
    await server.kill9();

    server = await server.restart();
    c = await server.client();
    expect((await c.stats()).get("queue_big_items")).toBe("3000");
    const mark = server.output.length;
    await drain(c, "big", 2000, 3000);
    expect(await c.get("big")).toBeNull();
    await server.waitForLog(/queue 'big': drained; journal reset/, mark);
    // The consumed segments go once the last REMOVEs are on disk, 5 ms of deletions per upkeep
    // (a busy machine may need a few upkeeps): watch the directory until they are gone.
    while (journalBytes(server.dataDir, "big") >= 1024) await Bun.sleep(100);
    c.close();
    await server.stop();
    server.removeData();
  }, 60_000);

  test("the server's memory doesn't grow with the backlog and stays under twice its idle size", async () => {
    const server = await ServerProcess.start({ config: `max_memory_size = "1MiB"\n` });
    const c = await server.client();
    const idleMiB = residentMiB(server.proc.pid);
    let next = 0;
    await expectMemoryNotToFollowBacklog(
      server.proc.pid,
      async (bytes) => {
        const count = Math.ceil(bytes / 1024);
        await fill(c, "mem", next, next + count);
        next += count;
      },
      96 * 1024 * 1024,
    );
    const stats = await c.stats();
    expect(Number(stats.get("queue_mem_mem_bytes"))).toBeLessThanOrEqual(1024 * 1024);
    expect(residentMiB(server.proc.pid)).toBeLessThan(2 * idleMiB);
    c.close();
    await server.stop();
    server.removeData();
  }, 60_000);
});
