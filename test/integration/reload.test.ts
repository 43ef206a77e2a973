/**
 * A reload that fails after the file was read and checked (a log_file that cannot be opened, a
 * journal that cannot be turned on) changes nothing and stops nothing: by SIGHUP or by the
 * `reload` command, the server keeps serving with the old config fully in force (dump_config and
 * behaviour); once the cause is fixed, the next reload applies entirely, and what is stored after
 * it survives a kill -9.
 */
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** The settings dump_config shows for `queue`, by key. */
async function shownConfig(c: TestClient, queue: string): Promise<Map<string, string>> {
  await c.send("dump_config\r\n");
  const lines = await c.readUntilEnd();
  const start = lines.indexOf(`queue '${queue}' {`);
  const end = lines.indexOf("}", start);
  return new Map(lines.slice(start + 1, end).map((line) => line.trim().split("=") as [string, string]));
}

/** Sends SIGHUP and waits for the failure it logs; the server must still answer afterwards. */
async function failingSighup(server: ServerProcess, c: TestClient, reason: RegExp): Promise<void> {
  const mark = server.output.length;
  server.proc.kill("SIGHUP");
  const logged = await server.waitForLog(/ERROR reload failed, keeping the current config: (.*)\n/, mark);
  expect(logged[1]).toMatch(reason);
  expect(await c.call("version")).toMatch(/^VERSION /);
}

test("a log_file that cannot be opened fails the whole reload; fixed, the next one applies fully", async () => {
  const dir = tempDir();
  const configPath = join(dir, "kestrel.toml");
  const server = await ServerProcess.start({ configPath, config: "[queues.r]\nmax_items = 1\n" });
  const c = await server.client();
  expect(await c.set("r", "1")).toBe("STORED");

  // logs/ does not exist yet. The new log_level and max_items must not slip in either.
  writeFileSync(configPath, `log_file = "logs/kestrel.log"\nlog_level = "warn"\n[queues.r]\nmax_items = 2\n`);
  const reason = /logs\/kestrel\.log.*ENOENT|ENOENT.*logs\/kestrel\.log/;
  await failingSighup(server, c, reason);
  const reply = await c.call("reload");
  expect(reply).toMatch(/^SERVER_ERROR reload failed: /);
  expect(reply).toMatch(reason);

  expect((await shownConfig(c, "r")).get("max_items")).toBe("1");
  expect(await c.set("r", "2")).toBe("NOT_STORED");
  // Still logging to stderr, at info.
  expect(await c.set("gone", "x")).toBe("STORED");
  const mark = server.output.length;
  expect(await c.call("delete gone")).toBe("DELETED");
  await server.waitForLog(/INFO  deleted queue 'gone'/, mark);

  mkdirSync(join(dir, "logs"));
  expect(await c.call("reload")).toBe("Reloaded config.");
  expect((await shownConfig(c, "r")).get("max_items")).toBe("2");
  expect(await c.set("r", "2")).toBe("STORED");
  expect(await c.set("r", "3")).toBe("NOT_STORED");
  // The log goes to the file now, at warn: a failing reload is logged there, the INFO lines are not.
  writeFileSync(configPath, "max_itemz = 1\n");
  expect(await c.call("reload")).toMatch(/^SERVER_ERROR reload failed: .*max_itemz: unknown key/);
  const logged = readFileSync(join(dir, "logs", "kestrel.log"), "utf8");
  expect(logged).toContain("ERROR reload failed, keeping the current config");
  expect(logged).not.toContain("INFO");
  c.close();
  await server.kill9();

  // Back to stderr, so the restarted server can be watched starting.
  const again = await server.restart({ config: "[queues.r]\nmax_items = 2\n" });
  const c2 = await again.client();
  expect(await c2.drain("r")).toEqual(["1", "2"]);
  c2.close();
  await again.stop();
  again.removeData();
});

test("a journal that cannot be turned on fails the whole reload; fixed, the next one writes it", async () => {
  const configPath = join(tempDir(), "kestrel.toml");
  const server = await ServerProcess.start({ configPath, config: "[queues.q]\njournal = false\n" });
  const c = await server.client();
  for (const item of ["a", "b", "c"]) expect(await c.set("q", item)).toBe("STORED");

  // Tests run as root, which no file mode stops; a directory where the journal file would go
  // fails its creation for anyone. A memory-only queue has no file there.
  const obstacle = join(server.dataDir, "q");
  mkdirSync(obstacle);
  writeFileSync(configPath, "[queues.q]\nmax_items = 3\n");
  await failingSighup(server, c, /queue 'q'.*q is a directory; move it out of the way/);
  expect(await c.call("reload")).toMatch(/^SERVER_ERROR reload failed: queue 'q'.*q is a directory; move it out of the way/);

  const shown = await shownConfig(c, "q");
  expect([shown.get("journal"), shown.get("max_items")]).toEqual(["false", "unlimited"]);
  expect(await c.set("q", "d")).toBe("STORED");
  expect((await c.stats()).get("queue_q_logsize")).toBe("0");
  expect(await c.get("q")).toBe("a");

  rmdirSync(obstacle);
  expect(await c.call("reload")).toBe("Reloaded config.");
  const applied = await shownConfig(c, "q");
  expect([applied.get("journal"), applied.get("max_items")]).toEqual(["true", "3"]);
  expect(await c.set("q", "e")).toBe("NOT_STORED");
  expect(await c.get("q")).toBe("b");
  expect(await c.set("q", "e")).toBe("STORED");
  expect(Number((await c.stats()).get("queue_q_logsize"))).toBeGreaterThan(0);
  c.close();
  await server.kill9();

  const again = await server.restart();
  const c2 = await again.client();
  expect(await c2.drain("q")).toEqual(["c", "d", "e"]);
  c2.close();
  await again.stop();
  again.removeData();
});
