import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

let server: ServerProcess;
let c: TestClient;

beforeAll(async () => {
  server = await ServerProcess.start();
  c = await server.client();
});

afterAll(async () => {
  c.close();
  expect(await server.stop()).toBe(0);
  server.removeData();
});

describe("memcache protocol", () => {
  test("set and get, FIFO, END when empty", async () => {
    expect(await c.set("fifo", "one")).toBe("STORED");
    expect(await c.set("fifo", "two")).toBe("STORED");
    expect(await c.get("fifo")).toBe("one");
    expect(await c.get("fifo")).toBe("two");
    expect(await c.get("fifo")).toBeNull();
  });

  test("the exact bytes of a VALUE reply, echoing the key with its options", async () => {
    await c.set("exact", "hi");
    await c.send("get exact/t=10\r\n");
    expect(await c.readLine()).toBe("VALUE exact/t=10 0 2");
    expect(await c.readLine()).toBe("hi");
    expect(await c.readLine()).toBe("END");
  });

  test("gets is get; command names are case-insensitive", async () => {
    await c.send("SET upper 0 0 1\r\nx\r\n");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.get("upper/peek")).toBe("x");
    await c.send("GETS upper\r\n");
    expect((await c.readValue())?.key).toBe("upper");
  });

  test("multi-key get returns one VALUE per hit and one END", async () => {
    await c.set("m1", "a");
    await c.set("m2", "b");
    await c.send("get m1 empty m2\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE m1 0 1", "a", "VALUE m2 0 1", "b"]);
  });

  test("a key repeated in one get is served once; keys that differ in their options are served each", async () => {
    for (const item of ["a1", "a2", "a3", "a4"]) await c.set("dup", item);
    await c.set("dup2", "b");
    await c.send("get dup dup dup2 dup\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE dup 0 2", "a1", "VALUE dup2 0 1", "b"]);
    await c.send("get dup dup/peek dup/t=1\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE dup 0 2", "a2", "VALUE dup/peek 0 2", "a3", "VALUE dup/t=1 0 2", "a3"]);
    expect(await c.drain("dup")).toEqual(["a4"]);
  });

  test("binary-safe data", async () => {
    const data = new Uint8Array(256).map((_, i) => i);
    await c.send(Buffer.concat([Buffer.from("set bin 0 0 256\r\n"), data, Buffer.from("\r\n")]));
    expect(await c.readLine()).toBe("STORED");
    await c.send("get bin\r\n");
    expect([...(await c.readValue())!.data]).toEqual([...data]);
  });

  test("noreply suppresses the reply", async () => {
    await c.send("set quiet 0 0 1 noreply\r\nq\r\nget quiet\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE quiet 0 1", "q"]);
  });

  test("peek looks without removing", async () => {
    await c.set("peeky", "p");
    expect(await c.get("peeky/peek")).toBe("p");
    expect(await c.get("peeky/peek")).toBe("p");
    expect(await c.get("peeky")).toBe("p");
    expect(await c.get("peeky/peek")).toBeNull();
  });

  test("delete drops the queue and its journal", async () => {
    await c.set("doomed", "x");
    expect(await c.call("delete doomed")).toBe("DELETED");
    const stats = await c.stats();
    expect(stats.has("queue_doomed_items")).toBe(false);
    expect(await Bun.file(`${server.dataDir}/doomed`).exists()).toBe(false);
  });

  test("flush, flush_all, flush_expired, flush_all_expired", async () => {
    await c.set("f1", "x");
    await c.set("f2", "y");
    expect(await c.call("flush f1")).toBe("END");
    expect(await c.get("f1")).toBeNull();
    expect(await c.call("flush_all")).toBe("Flushed all queues.");
    expect(await c.get("f2")).toBeNull();
    await c.set("fe", "stays");
    await c.set("fe", "gone", -1);
    await c.set("fe", "gone too", Math.floor(Date.now() / 1000) - 10);
    expect(await c.call("flush_expired fe")).toBe("2");
    await c.set("fe2", "old", Math.floor(Date.now() / 1000) - 10);
    expect(await c.call("flush_all_expired")).toMatch(/^\d+$/);
    expect(await c.get("fe2")).toBeNull();
    expect(await c.get("fe")).toBe("stays");
  });

  test("a flush or delete waits (off the event loop) before it runs: requests pipelined after it run after it, in order", async () => {
    await c.set("pf", "before");
    await c.send("flush pf\r\nset pf 0 0 5\r\nafter\r\nget pf\r\ndelete pf\r\nset pf 0 0 5\r\nnewer\r\nget pf\r\nget pf\r\n");
    expect([await c.readLine(), await c.readLine()]).toEqual(["END", "STORED"]);
    expect(await c.readUntilEnd()).toEqual(["VALUE pf 0 5", "after"]);
    expect([await c.readLine(), await c.readLine()]).toEqual(["DELETED", "STORED"]);
    expect(await c.readUntilEnd()).toEqual(["VALUE pf 0 5", "newer"]);
    expect(await c.readUntilEnd()).toEqual([]);
  });

  test("stats has the server and per-queue stats", async () => {
    await c.set("counted", "12345");
    const stats = await c.stats();
    for (const name of [
      "uptime", "time", "version", "curr_items", "total_items", "bytes", "curr_connections", "total_connections",
      "cmd_get", "cmd_set", "cmd_peek", "get_hits", "get_misses", "bytes_read", "bytes_written", "open_transactions_timed_out",
    ]) {
      expect(stats.get(name)).toMatch(/^[\d.]+$/);
    }
    for (const name of [
      "items", "bytes", "total_items", "logsize", "expired_items", "mem_items", "mem_bytes", "age", "discarded", "waiters", "open_transactions", "open_transactions_timed_out",
    ]) {
      expect(stats.get(`queue_counted_${name}`)).toMatch(/^\d+$/);
    }
    expect(stats.get("queue_counted_items")).toBe("1");
    expect(stats.get("queue_counted_bytes")).toBe("5");
  });

  test("dump_stats and dump_config show per-queue blocks", async () => {
    await c.set("dumped", "x");
    await c.send("dump_stats\r\n");
    const stats = await c.readUntilEnd();
    const at = stats.indexOf("queue 'dumped' {");
    expect(at).toBeGreaterThanOrEqual(0);
    expect(stats[at + 1]).toBe("  items=1");
    await c.send("dump_config\r\n");
    const config = await c.readUntilEnd();
    const block = config.slice(config.indexOf("queue 'dumped' {"));
    expect(block).toContain("  max_items=unlimited");
    expect(block).toContain("  sync_journal=never");
    expect(block).toContain("  max_journal_size=16777216");
  });

  test("version and reload", async () => {
    expect(await c.call("version")).toMatch(/^VERSION \d+\.\d+\.\d+/);
    expect(await c.call("reload")).toBe("Reloaded config.");
  });

  test("unknown commands get ERROR, bad requests CLIENT_ERROR, and the connection lives on", async () => {
    expect(await c.call("bogus")).toBe("ERROR");
    expect(await c.call("")).toBe("ERROR");
    expect(await c.call("get")).toBe("ERROR");
    expect(await c.call("get q/open/peek")).toMatch(/^CLIENT_ERROR /);
    expect(await c.call("get q/abort/open")).toMatch(/^CLIENT_ERROR /);
    expect(await c.call("get q/bogus")).toMatch(/^CLIENT_ERROR /);
    expect(await c.call("get ../etc/passwd")).toMatch(/^CLIENT_ERROR bad queue name/);
    await c.send("set bad/name 0 0 1\r\nx\r\n");
    expect(await c.readLine()).toMatch(/^CLIENT_ERROR bad queue name/);
    await c.send("set q 0 x 1\r\nx\r\n");
    expect(await c.readLine()).toBe("CLIENT_ERROR bad command line format");
    await c.send("add q 0 0 11\r\nflush_all\r\n\r\n");
    expect(await c.readLine()).toBe("ERROR");
    expect(await c.call("version")).toMatch(/^VERSION /);
  });

  test("a set header separated by tabs is a set: its data block, even 'shutdown', is never run", async () => {
    await c.send("set\ttabbed\t0\t0\t8\r\nshutdown\r\nset \ttabbed 0\t 0 9\t\r\nflush_all\r\n");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.get("tabbed")).toBe("shutdown");
    expect(await c.get("tabbed")).toBe("flush_all");
    const glued = await server.client();
    await glued.send("set\x00glued 0 0 8\r\nshutdown\r\n");
    expect(await glued.readLine()).toBe("CLIENT_ERROR bad command line format");
    await glued.closed;
    expect(await c.call("version")).toMatch(/^VERSION /);
  });

  test("a set with extra tokens before noreply is stored, as memcached does, and the stream stays in step", async () => {
    await c.send("set extra 0 0 5 what noreply\r\nfirst\r\nset extra 0 0 6 two more\r\nsecond\r\n");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.get("extra")).toBe("first");
    expect(await c.get("extra")).toBe("second");
  });

  test("get options are case-insensitive, the key is echoed as sent", async () => {
    await c.set("caps", "x");
    await c.send("get caps/OPEN/T=100\r\n");
    expect(await c.readUntilEnd()).toEqual(["VALUE caps/OPEN/T=100 0 1", "x"]);
    expect(await c.call("get caps/Close")).toBe("END");
    await c.set("caps", "y");
    expect(await c.get("caps/PEEK")).toBe("y");
  });

  test("an error naming what the client sent shows its control bytes escaped, never raw", async () => {
    await c.send("set a\rb 0 0 1\r\nx\r\nget q/\x01x\x7f\r\n");
    expect(await c.readLine()).toBe("CLIENT_ERROR bad queue name 'a\\x0db'");
    expect(await c.readLine()).toBe("CLIENT_ERROR unknown option '\\x01x\\x7f'");
  });

  test("a set whose data isn't followed by \\r\\n closes the connection after the reply", async () => {
    const bad = await server.client();
    await bad.send("set q 0 0 2\r\nabc\r\n");
    expect(await bad.readLine()).toBe("CLIENT_ERROR bad data chunk");
    await bad.closed;
  });

  test("a set over max_request_size is refused without reading its data", async () => {
    const big = await server.client();
    await big.send(`set q 0 0 ${128 * 1024 * 1024}\r\n`);
    expect(await big.readLine()).toBe("SERVER_ERROR object too large");
    await big.closed;
  });

  test("quit closes the connection", async () => {
    const q = await server.client();
    await q.send("quit\r\n");
    await q.closed;
  });
});
