/**
 * `kestrel status HOST:PORT [status]` against real servers: reading, setting (any case; the line
 * printed is what the server then reports), persistence across kill -9, and each failure as one
 * line with its exit code: unreachable, refused by admin_commands, unknown status, bad usage.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, runKestrel, ServerProcess } from "../helpers/server.ts";

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.kill9();
});

async function start(config?: string): Promise<ServerProcess> {
  const server = await ServerProcess.start(config === undefined ? {} : { config });
  servers.push(server);
  return server;
}

test("prints the status in lower case; sets it (any case) and prints the one in force; it survives kill -9", async () => {
  const server = await start();
  const address = `127.0.0.1:${server.port}`;
  expect(await runKestrel(["status", address])).toEqual({ stdout: "up\n", stderr: "", code: 0 });

  const mark = server.output.length;
  expect(await runKestrel(["status", address, "ReadOnly"])).toEqual({ stdout: "readonly\n", stderr: "", code: 0 });
  await server.waitForLog(/status changed from 'up' to 'readonly' by 127\.0\.0\.1/, mark);
  const c = await server.client();
  expect(await c.set("jobs", "x")).toBe("SERVER_ERROR server is readonly: sets are refused");
  c.close();
  expect(readFileSync(join(server.dataDir, ".kestrel", "status"), "utf8")).toBe("readonly\n");

  await server.kill9();
  const again = await server.restart();
  servers.push(again);
  expect((await runKestrel(["status", `127.0.0.1:${again.port}`])).stdout).toBe("readonly\n");
  for (const status of ["writeavoid", "quiescent", "up"]) {
    expect(await runKestrel(["status", `127.0.0.1:${again.port}`, status])).toEqual({ stdout: `${status}\n`, stderr: "", code: 0 });
  }
});

test("an unreachable server: one line naming it, exit 1", async () => {
  const port = freePort();
  const result = await runKestrel(["status", `127.0.0.1:${port}`]);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe("");
  expect(result.stderr).toMatch(new RegExp(`^kestrel: 127\\.0\\.0\\.1:${port}: could not connect: .*ECONNREFUSED.*\\n$`));
});

test('a change refused by admin_commands = "none": one line with the server\'s reason, exit 1, nothing changed', async () => {
  const server = await start('admin_commands = "none"\n');
  const address = `127.0.0.1:${server.port}`;
  const result = await runKestrel(["status", address, "readonly"]);
  expect(result).toEqual({
    stdout: "",
    stderr: `kestrel: ${address}: status not set to 'readonly': CLIENT_ERROR status is not allowed from 127.0.0.1\n`,
    code: 1,
  });
  expect((await runKestrel(["status", address])).stdout).toBe("up\n");
});

test("an unknown status is a usage error found before connecting; so are a bad address and a wrong argument count", async () => {
  const server = await start();
  const mark = server.output.length;
  const unknown = await runKestrel(["status", `127.0.0.1:${server.port}`, "down"]);
  expect(unknown).toEqual({ stdout: "", stderr: "kestrel: status: unknown status 'down' (expected up, writeavoid, readonly or quiescent)\n", code: 2 });
  expect(server.output.slice(mark)).toBe("");
  for (const args of [["status"], ["status", "127.0.0.1:1", "up", "now"], ["status", "127.0.0.1:99999"], ["status", "127.0.0.1:1", "--json"]]) {
    const result = await runKestrel(args);
    expect({ args, code: result.code, lines: result.stderr.split("\n").length }).toEqual({ args, code: 2, lines: 2 });
  }
});
