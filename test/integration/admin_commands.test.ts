/**
 * `admin_commands` on a real server: which clients may stop it, reload it or drop items, and the
 * log line every administrative command leaves. A client on another machine is played in
 * test/server/access.test.ts (tests talk only to loopback).
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

test("by default a client on this machine may run them, and each one is logged with its address", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  for (const queue of ["a", "b", "c"]) expect(await c.set(queue, "x")).toBe("STORED");
  const runs: ReadonlyArray<readonly [string, string]> = [
    ["flush a", "END"],
    ["flush_all", "Flushed all queues."],
    ["delete c", "DELETED"],
    ["reload", "Reloaded config."],
  ];
  for (const [command, reply] of runs) {
    const mark = server.output.length;
    expect(await c.call(command)).toBe(reply);
    await server.waitForLog(new RegExp(`INFO  admin command '${command}' from 127\\.0\\.0\\.1\\n`), mark);
  }
  const mark = server.output.length;
  await c.send("shutdown\r\n");
  expect(await server.exited()).toBe(0);
  await server.waitForLog(/INFO  admin command 'shutdown' from 127\.0\.0\.1\n/, mark);
});

test('admin_commands = "none" refuses them to everyone, changes nothing and logs the refusal', async () => {
  const dir = tempDir();
  const configPath = join(dir, "kestrel.toml");
  const server = await ServerProcess.start({ configPath, config: 'admin_commands = "none"\n' });
  const c = await server.client();
  expect(await c.set("jobs", "x")).toBe("STORED");
  const mark = server.output.length;
  for (const command of ["flush jobs", "flush_all", "delete jobs", "reload", "shutdown"]) {
    expect(await c.call(command)).toBe(`CLIENT_ERROR ${command.split(" ")[0]} is not allowed from 127.0.0.1`);
  }
  await server.waitForLog(/WARN  refused admin command 'flush jobs' from 127\.0\.0\.1 \(admin_commands = "none"\)\n/, mark);
  expect(await c.get("jobs/peek")).toBe("x");

  // A client retrying on new connections doesn't flood the log: repeats are counted, not written.
  for (let i = 0; i < 20; i++) {
    const again = await server.client();
    expect(await again.call("flush_all")).toBe("CLIENT_ERROR flush_all is not allowed from 127.0.0.1");
    again.close();
  }
  expect(await c.call("version")).toMatch(/^VERSION /);
  expect(server.output.slice(mark).match(/refused admin command 'flush_all' from 127\.0\.0\.1 \(admin_commands = "none"\)\n/g)).toHaveLength(1);

  // The policy is read at every command: a reload by signal (a local operator) lifts it at once.
  writeFileSync(configPath, 'admin_commands = "loopback"\n');
  const reloaded = server.output.length;
  server.proc.kill("SIGHUP");
  await server.waitForLog(/reloaded config/, reloaded);
  expect(await c.call("flush jobs")).toBe("END");
  expect(await c.get("jobs")).toBeNull();
  c.close();
  // The repeats not yet reported are written at the stop, not lost with the process.
  expect(await server.stop()).toBe(0);
  expect(server.output.slice(mark)).toContain(
    `refused admin command 'flush_all' from 127.0.0.1 (admin_commands = "none") (and 19 more like it since the last such line)\n`,
  );
});
