/**
 * Kestrel 2's queue features over TCP: a fanout child gets the item when the parent refuses it,
 * fanout_only, max_queue_age (with the queue_expires stat), max_expire_sweep, and queue names as
 * Kestrel 2 accepts them, which survive a restart under the names they had.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

test("a fanout child gets the item even when the parent refuses it for being full; the set says NOT_STORED", async () => {
  const server = await ServerProcess.start({ config: '[queues.jobs]\nmax_items = 1\n[queues."jobs+audit"]\nmax_items = 10\n' });
  const c = await server.client();
  expect(await c.get("jobs+audit")).toBeNull(); // creates the child
  expect(await c.set("jobs", "1")).toBe("STORED");
  expect(await c.set("jobs", "2")).toBe("NOT_STORED");
  expect(await c.drain("jobs")).toEqual(["1"]);
  expect(await c.drain("jobs+audit")).toEqual(["1", "2"]);
  c.close();
  expect(await server.stop()).toBe(0);
});

test("fanout_only: the parent keeps nothing and has no journal; its children get every item", async () => {
  const server = await ServerProcess.start({ config: "[queues.feed]\nfanout_only = true\n" });
  const c = await server.client();
  expect(await c.get("feed+a")).toBeNull();
  expect(await c.get("feed+b")).toBeNull();
  expect(await c.set("feed", "x")).toBe("STORED");
  expect(await c.get("feed")).toBeNull();
  expect([await c.get("feed+a"), await c.get("feed+b")]).toEqual(["x", "x"]);
  const stats = await c.stats();
  expect([stats.get("queue_feed_items"), stats.get("queue_feed_total_items"), stats.get("queue_feed_children")]).toEqual(["0", "0", "feed+a,feed+b"]);
  c.close();
  expect(await server.stop()).toBe(0);
  expect(existsSync(join(server.dataDir, "feed"))).toBe(false);
});

test("max_queue_age: the expiry sweep deletes an empty queue older than it, with its journal; queue_expires counts it", async () => {
  const server = await ServerProcess.start({ config: 'expiration_timer_frequency = "100ms"\nmax_queue_age = "300ms"\n' });
  const c = await server.client();
  expect(await c.set("busy", "stays")).toBe("STORED");
  const mark = server.output.length;
  expect(await c.set("tmp", "x")).toBe("STORED");
  expect(await c.get("tmp")).toBe("x");
  await server.waitForLog(/queue 'tmp': expired \(empty, and created more than max_queue_age = 300 ms ago\)/, mark);
  const stats = await c.stats();
  expect(stats.has("queue_tmp_items")).toBe(false);
  expect(stats.get("queue_busy_items")).toBe("1");
  expect([stats.get("queue_creates"), stats.get("queue_deletes"), stats.get("queue_expires")]).toEqual(["2", "1", "1"]);
  expect(readdirSync(server.dataDir).filter((file) => file.startsWith("tmp"))).toEqual([]);
  c.close();
  expect(await server.stop()).toBe(0);
});

test("max_expire_sweep: a flush_expired removes at most that many, as Kestrel 2's discardExpired", async () => {
  const config = "expiration_timer_frequency = 0\n[queues.slow]\nmax_expire_sweep = 2\n";
  const server = await ServerProcess.start({ config, wallClockFile: join(tempDir(), "offset") });
  const c = await server.client();
  for (const data of ["1", "2", "3", "4", "5"]) expect(await c.set("slow", data, 1)).toBe("STORED"); // expire in 1 s
  expect(await c.set("slow", "live")).toBe("STORED");
  await server.setWallClockOffset(2000); // two seconds pass, as far as the server can tell
  expect([await c.call("flush_expired slow"), await c.call("flush_expired slow"), await c.call("flush_expired slow")]).toEqual(["2", "2", "1"]);
  expect(await c.drain("slow")).toEqual(["live"]);
  c.close();
  expect(await server.stop()).toBe(0);
});

test("names Kestrel 2 accepts (printable, without . / ~) come back after a restart under the names they had", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  const names = ["a:b", "a$b", "a%b", "x\\y", "it's", "imported", "q{1}", "jobs+a:b"];
  for (const name of names) expect(await c.set(name, name)).toBe("STORED");
  for (const bad of ["a.b", "a~", "a/b"]) expect(await c.set(bad, "x")).toMatch(/^CLIENT_ERROR bad queue name/);
  c.close();
  await server.kill9();
  expect(readdirSync(server.dataDir).filter((file) => !file.startsWith(".")).sort()).toEqual(
    ["a%3Ab", "a%24b", "a%25b", "x%5Cy", "it%27s", "%69mported", "q%7B1%7D", "jobs+a%3Ab"].sort(),
  );
  const again = await server.restart();
  const d = await again.client();
  const stats = await d.stats();
  for (const name of names) expect(stats.get(`queue_${name}_items`)).toBe("1");
  for (const name of names) expect(await d.get(name)).toBe(name);
  d.close();
  expect(await again.stop()).toBe(0);
});

test("a flush_expired of 100,000 expired items goes over turns: other clients are served while it runs", async () => {
  const config = "expiration_timer_frequency = 0\n";
  const server = await ServerProcess.start({ config, wallClockFile: join(tempDir(), "offset") });
  const filler = await server.client();
  // They expire in 60 s, not at once: each set drops expired items at the head, and 100,000 sets
  // take over a second on a busy machine.
  await filler.send("set many 0 60 1 noreply\r\nx\r\n".repeat(100_000));
  expect(await filler.set("many", "last", 60)).toBe("STORED");
  await server.setWallClockOffset(120_000); // every item has expired
  const [flusher, other] = [await server.client(), await server.client()];
  const flushed = flusher.call("flush_expired many");
  // Once the flush has begun, another client sees it part-way (in one turn, it would see 0).
  let items = 100_001;
  while (items === 100_001) items = Number(await other.queueStat("many", "items"));
  expect(items).toBeGreaterThan(0);
  expect(await flushed).toBe("100001");
  expect(await other.queueStat("many", "items")).toBe("0");
  for (const c of [filler, flusher, other]) c.close();
  expect(await server.stop()).toBe(0);
});
