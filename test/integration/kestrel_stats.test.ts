/**
 * The stats Kestrel 2 reports (docs/guide.md "Statistics", PersistentQueue.dumpStats,
 * QueueCollection.stats), over TCP: queue_creates, queue_deletes, queue_expires; per queue
 * transactions, canceled_transactions, total_flushes, journal_rewrites, journal_rotations,
 * children; `dump_stats <queue>...`; `age` growing while nothing is taken; the same figures in
 * /stats.json and /metrics.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

test("per-queue counters and the queue lifecycle counters, in stats, dump_stats, /stats.json and /metrics", async () => {
  const server = await ServerProcess.start({ config: 'admin_port = 0\n[queues.q]\nmax_journal_size = "1KiB"\n' });
  const c = await server.client();
  const other = await server.client();
  for (let i = 0; i < 6; i++) expect(await c.set("q", "x".repeat(600))).toBe("STORED");
  expect(await c.get("q/open")).not.toBeNull();
  expect(await c.get("q/abort")).toBeNull();
  expect(await c.get("q/open")).not.toBeNull();
  expect(await c.get("q/close")).toBeNull();
  expect(await other.get("q/open")).not.toBeNull();
  other.close(); // its open item comes back: canceled too
  while ((await c.stats()).get("queue_q_open_transactions") !== "0");
  expect(await c.get("empty/open")).toBeNull(); // on an empty queue: not a transaction, as in Kestrel 2
  expect(await c.call("flush q")).toBe("END");
  expect(await c.get("q+child")).toBeNull();
  expect(await c.set("gone", "x")).toBe("STORED");
  expect(await c.call("delete gone")).toBe("DELETED");

  const stats = await c.stats();
  const q = (name: string) => stats.get(`queue_q_${name}`);
  expect([q("transactions"), q("canceled_transactions"), q("total_flushes"), q("children")]).toEqual(["3", "2", "1", "q+child"]);
  expect(Number(q("journal_rotations"))).toBeGreaterThanOrEqual(2); // 6 x 600 bytes in 1 KiB segments
  expect(Number(q("journal_rewrites"))).toBeGreaterThanOrEqual(1); // the flush
  expect(stats.get("queue_empty_transactions")).toBe("0");
  expect(stats.has("queue_empty_children")).toBe(false);
  expect([stats.get("queue_creates"), stats.get("queue_deletes"), stats.get("queue_expires")]).toEqual(["4", "1", "0"]);

  await c.send("dump_stats q+child nothing\r\n");
  const dump = await c.readUntilEnd();
  expect(dump[0]).toBe("queue 'q+child' {");
  expect(dump.slice(1, -3).map((line) => line.trim().split("=")[0])).toEqual([
    "items", "bytes", "total_items", "logsize", "expired_items", "mem_items", "mem_bytes", "age", "discarded", "waiters",
    "open_transactions", "open_transactions_timed_out", "transactions", "canceled_transactions", "total_flushes",
    "journal_rewrites", "journal_rotations",
  ]);
  expect(dump.slice(-3)).toEqual(["}", "queue 'nothing' {", "}"]);

  const admin = await server.adminAddress();
  const json = (await (await fetch(`http://${admin}/stats.json`)).json()) as { server: Record<string, unknown>; queues: Record<string, Record<string, unknown>> };
  expect(json.server).toMatchObject({ queue_creates: 4, queue_deletes: 1, queue_expires: 0 });
  expect(json.queues.q).toMatchObject({ transactions: 3, canceled_transactions: 2, total_flushes: 1, children: ["q+child"] });
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  for (const line of [
    "kestrel_queue_creates_total 4",
    'kestrel_queue_transactions_total{queue="q"} 3',
    'kestrel_queue_canceled_transactions_total{queue="q"} 2',
    'kestrel_queue_flushes_total{queue="q"} 1',
    'kestrel_queue_children{queue="q"} 1',
  ]) {
    expect(metrics).toContain(`${line}\n`);
  }
  expect(metrics).toMatch(/^kestrel_queue_journal_rotations_total\{queue="q"\} [1-9]\d*$/m);
  c.close();
  expect(await server.stop()).toBe(0);
});

test("age: how long ago the last item taken was added, growing while nothing is taken; 0 when empty", async () => {
  const server = await ServerProcess.start({ wallClockFile: join(tempDir(), "offset") });
  const c = await server.client();
  const age = async () => Number((await c.stats()).get("queue_aged_age"));
  expect(await c.set("aged", "a")).toBe("STORED");
  expect(await c.set("aged", "b")).toBe("STORED");
  expect(await c.get("aged")).toBe("a");
  const first = await age();
  await server.setWallClockOffset(60_000); // a minute passes, as far as the server can tell
  expect(await age()).toBeGreaterThanOrEqual(first + 60_000);
  expect(await c.get("aged")).toBe("b");
  expect(await age()).toBe(0);
  c.close();
  expect(await server.stop()).toBe(0);
});
