/**
 * Item flags and `gets` cas uniques, end to end: a `set`'s 32-bit flags come back byte for byte in
 * every VALUE line, through every way an item can travel (memory, read-behind, kill -9 and replay,
 * compaction, fanout), and `gets` adds the item's id as the cas unique while `get` never does.
 */
import { describe, expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

/** Flags memcache clients use: none, type bits, a compression bit, the top bit, the largest. */
const FLAGS = [0, 1, 2, 0x100, 0x8000_0000, 0xffff_ffff];
const flagsOf = (n: number) => FLAGS[n % FLAGS.length]!;

/** One item taken with `command`: [key, flags, cas, data]; null for END. */
async function one(c: TestClient, command: string): Promise<[string, number, string | null, string] | null> {
  const values = await c.values(command);
  expect(values.length).toBeLessThanOrEqual(1);
  const value = values[0];
  return value === undefined ? null : [value.key, value.flags, value.cas, Buffer.from(value.data).toString()];
}

/** Sets `count` items `<prefix>-<n>` with flags `flagsOf(n)`, pipelined. */
async function fill(c: TestClient, queue: string, count: number, prefix: string, size = 0): Promise<void> {
  const data = (n: number) => `${prefix}-${n}`.padEnd(size, ".");
  await c.send(Array.from({ length: count }, (_, n) => `set ${queue} ${flagsOf(n)} 0 ${data(n).length}\r\n${data(n)}\r\n`).join(""));
  for (let n = 0; n < count; n++) expect(await c.readLine()).toBe("STORED");
}

/** Takes `count` items and checks each one's data and flags against `fill`'s. */
async function expectFilled(c: TestClient, queue: string, count: number, prefix: string, size = 0, from = 0): Promise<void> {
  for (let n = from; n < from + count; n++) expect(await one(c, `get ${queue}`)).toEqual([queue, flagsOf(n), null, `${prefix}-${n}`.padEnd(size, ".")]);
}

describe("item flags", () => {
  test("come back as they were set, on the wire, in get, peek, open, abort and close", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    await fill(c, "q", FLAGS.length, "x");
    await c.send("get q\r\n");
    expect(await c.readLine()).toBe("VALUE q 0 3");
    expect(Buffer.from(await c.readBytes(8)).toString()).toBe("x-0\r\nEND");
    await c.readLine();
    expect(await one(c, "get q/peek")).toEqual(["q/peek", 1, null, "x-1"]);
    expect(await one(c, "get q/open")).toEqual(["q/open", 1, null, "x-1"]);
    expect(await one(c, "get q/abort")).toBeNull();
    expect(await one(c, "get q/close/open")).toEqual(["q/close/open", 1, null, "x-1"]);
    expect(await one(c, "get q/close/open")).toEqual(["q/close/open", 2, null, "x-2"]);
    expect(await one(c, "get q/close")).toBeNull();
    await expectFilled(c, "q", 3, "x", 0, 3);
    c.close();
    await server.stop();
  });

  test("survive kill -9, in memory and read back from disk (read-behind), before and after the restart", async () => {
    const server = await ServerProcess.start({ config: "[queues.rb]\nmax_memory_size = 4096\n" });
    const c = await server.client();
    await fill(c, "rb", 300, "item", 100);
    await expectFilled(c, "rb", 100, "item", 100);
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    await expectFilled(c2, "rb", 200, "item", 100, 100);
    expect(await one(c2, "get rb")).toBeNull();
    c2.close();
    await again.stop();
  });

  test("survive a compaction: open items, items put back at the head and the rest", async () => {
    const server = await ServerProcess.start({ config: "[queues.cp]\nmax_journal_size = 1024\nmax_journal_overflow = 2\n" });
    const holder = await server.client();
    const c = await server.client();
    const other = await server.client();
    await holder.set("cp", "held", 0, 11);
    expect(await one(holder, "get cp/open")).toEqual(["cp/open", 11, null, "held"]);
    await fill(c, "cp", 100, "filler", 50);
    await expectFilled(c, "cp", 100, "filler", 50);
    await c.set("cp", "b", 0, 22);
    await c.set("cp", "c", 0, 0xffff_ffff);
    expect(await one(c, "get cp/open")).toEqual(["cp/open", 22, null, "b"]);
    expect(await one(other, "get cp/open")).toEqual(["cp/open", 0xffff_ffff, null, "c"]);
    // b, then c, back at the head: c before b, out of id order (PUT_BACK records in a pack written from here on).
    expect(await one(c, "get cp/abort")).toBeNull();
    expect(await one(other, "get cp/abort")).toBeNull();
    // The journal grew past 2 KiB with 6 live items: upkeep compacts it (at some point since the start).
    await server.waitForLog(/queue 'cp': compacted the journal/);
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    expect(await one(c2, "get cp")).toEqual(["cp", 11, null, "held"]);
    expect(await one(c2, "get cp")).toEqual(["cp", 0xffff_ffff, null, "c"]);
    expect(await one(c2, "get cp")).toEqual(["cp", 22, null, "b"]);
    expect(await one(c2, "get cp")).toBeNull();
    c2.close();
    await again.stop();
  });

  test("go to every fanout child with the item, and survive a restart there", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    expect(await one(c, "get f+a")).toBeNull();
    await c.set("f", "fanned", 0, 0x8000_0007);
    expect(await one(c, "get f")).toEqual(["f", 0x8000_0007, null, "fanned"]);
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    expect(await one(c2, "get f+a")).toEqual(["f+a", 0x8000_0007, null, "fanned"]);
    c2.close();
    await again.stop();
  });
});

describe("gets", () => {
  test("adds the item's id as the cas unique, on one key and on several; get never does", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    await fill(c, "q", 4, "x");
    await fill(c, "p", 2, "y");
    await c.send("gets q\r\n");
    expect(await c.readLine()).toBe("VALUE q 0 3 1");
    expect(Buffer.from(await c.readBytes(5)).toString()).toBe("x-0\r\n");
    expect(await c.readLine()).toBe("END");
    expect(await one(c, "gets q/open")).toEqual(["q/open", 1, "2", "x-1"]);
    // An aborted item keeps its id, so its cas.
    expect(await one(c, "gets q/abort")).toBeNull();
    expect(await one(c, "gets q/peek")).toEqual(["q/peek", 1, "2", "x-1"]);
    const values = await c.values("gets q other p/peek p");
    expect(values.map((v) => [v.key, v.flags, v.cas, Buffer.from(v.data).toString()])).toEqual([
      ["q", 1, "2", "x-1"],
      ["p/peek", 0, "1", "y-0"],
      ["p", 0, "1", "y-0"],
    ]);
    expect(await one(c, "gets p")).toEqual(["p", 1, "2", "y-1"]);
    expect(await one(c, "get q")).toEqual(["q", 2, null, "x-2"]);
    c.close();
    await server.stop();
  });
});
