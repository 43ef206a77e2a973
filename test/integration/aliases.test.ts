/**
 * Queue aliases over TCP, against Kestrel 2's guide ("Queue Aliases"): a set to an alias feeds
 * each destination; a get on it answers as an empty queue (without waiting); delete and flush on
 * it do nothing; its stats (put_items, put_bytes, children) in `stats`, `dump_stats`, /stats.json
 * and /metrics; reload changes the aliases; a name is a queue or an alias, never both.
 */
import { expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runKestrel, ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CONFIG = 'admin_port = 0\n[aliases.all]\ndestination_queues = ["a", "b"]\n';

test("a set to an alias feeds each destination; reads, deletes and flushes on it find nothing to do", async () => {
  const server = await ServerProcess.start({ config: CONFIG });
  const c = await server.client();
  expect(await c.set("all", "hello")).toBe("STORED");
  expect(await c.set("all", "again!")).toBe("STORED");
  expect(await c.get("a")).toBe("hello");
  expect(await c.get("b")).toBe("hello");
  // An alias answers as an empty queue, at once, even to a get that would wait ten minutes.
  for (const key of ["all", "all/t=600000", "all/open", "all/peek", "all/close/open", "all/abort"]) expect(await c.get(key)).toBeNull();
  expect(await c.call("delete all")).toBe("DELETED");
  expect(await c.call("flush all")).toBe("END");
  expect(await c.call("flush_expired all")).toBe("0");
  expect(await c.get("a")).toBe("again!");

  const stats = await c.stats();
  expect([stats.get("queue_all_put_items"), stats.get("queue_all_put_bytes"), stats.get("queue_all_children")]).toEqual(["2", "11", "a,b"]);
  expect(stats.has("queue_all_items")).toBe(false);
  await c.send("dump_stats all\r\n");
  expect(await c.readUntilEnd()).toEqual(["queue 'all' {", "  put_items=2", "  put_bytes=11", "  children=a,b", "}"]);
  await c.send("dump_config\r\n");
  expect((await c.readUntilEnd()).slice(-3)).toEqual(["queue 'all' {", "  destination_queues=a,b", "}"]);

  const admin = await server.adminAddress();
  const json = (await (await fetch(`http://${admin}/stats.json`)).json()) as { aliases: unknown; queues: Record<string, unknown> };
  expect(json.aliases).toEqual({ all: { put_items: 2, put_bytes: 11, destination_queues: ["a", "b"] } });
  expect(Object.keys(json.queues).sort()).toEqual(["a", "b"]);
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  expect(metrics).toContain('kestrel_alias_put_items_total{alias="all"} 2\n');
  expect(metrics).toContain('kestrel_alias_put_bytes_total{alias="all"} 11\n');
  c.close();
  expect(await server.stop()).toBe(0);
  expect(existsSync(join(server.dataDir, "all"))).toBe(false);
});

test("a destination that refuses the item makes the set NOT_STORED, as Kestrel's result && thisResult; the others still get it", async () => {
  const server = await ServerProcess.start({ config: `${CONFIG}[queues.a]\nmax_items = 1\n` });
  const c = await server.client();
  expect(await c.set("all", "1")).toBe("STORED");
  expect(await c.set("all", "2")).toBe("NOT_STORED");
  expect(await c.drain("b")).toEqual(["1", "2"]);
  expect(await c.drain("a")).toEqual(["1"]);
  c.close();
  expect(await server.stop()).toBe(0);
});

test("reload sets the aliases up, changes and drops them; an alias named like a queue is refused", async () => {
  const dir = tempDir();
  const configPath = join(dir, "kestrel.toml");
  const server = await ServerProcess.start({ configPath, config: "" });
  const c = await server.client();
  expect(await c.set("x", "a queue")).toBe("STORED");
  writeFileSync(configPath, CONFIG.replace("admin_port = 0\n", ""));
  expect(await c.call("reload")).toBe("Reloaded config.");
  expect(await c.set("all", "1")).toBe("STORED");
  writeFileSync(configPath, '[aliases.x]\ndestination_queues = ["c"]\n');
  expect(await c.call("reload")).toMatch(/^SERVER_ERROR reload failed: .*kestrel.toml: aliases\.x: 'x' is also a queue in .*; a name is a queue or an alias, not both/);
  expect(await c.set("all", "2")).toBe("STORED"); // the config in force is kept
  expect(await c.call("delete x")).toBe("DELETED");
  expect(await c.call("reload")).toBe("Reloaded config.");
  expect(await c.set("x", "3")).toBe("STORED");
  expect(await c.set("all", "a queue now")).toBe("STORED");
  expect([await c.drain("a"), await c.drain("c"), await c.drain("all")]).toEqual([["1", "2"], ["3"], ["a queue now"]]);
  c.close();
  expect(await server.stop()).toBe(0);
});

test("a server whose alias is named like a queue in queue_path does not start, and says why", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  expect(await c.set("all", "kept")).toBe("STORED");
  c.close();
  expect(await server.stop()).toBe(0);
  const confDir = tempDir();
  writeFileSync(join(confDir, "kestrel.toml"), CONFIG);
  const refused = await runKestrel(["--config", join(confDir, "kestrel.toml"), "--host", "127.0.0.1", "--port", "0", "--data", server.dataDir]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/aliases.all: 'all' is also a queue in .*delete the queue first/);
  const again = await server.restart();
  expect(await (await again.client()).get("all")).toBe("kept");
  expect(await again.stop()).toBe(0);
});
