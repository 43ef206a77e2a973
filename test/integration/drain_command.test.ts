/**
 * `kestrel drain --admin HOST:PORT --timeout SECONDS` (the Kubernetes preStop hook) against real
 * servers: a drain that a consuming client empties, an open item that holds it, a timeout, the
 * status put back (or left alone when an operator set it), the admin token from the environment,
 * and the failures: admin port unreachable, status change refused, bad usage.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KestrelClient } from "../../src/client/index.ts";
import { freePort, runKestrel, ServerProcess, spawnKestrel } from "../helpers/server.ts";

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.kill9();
});

/** A server with its admin HTTP port on; returns it and that port's address. */
async function start(config = ""): Promise<{ server: ServerProcess; admin: string }> {
  const server = await ServerProcess.start({ config: `admin_port = 0\n${config}` });
  servers.push(server);
  return { server, admin: await server.adminAddress() };
}

async function fill(server: ServerProcess, queue: string, count: number): Promise<void> {
  const c = await server.client();
  for (let i = 0; i < count; i++) expect(await c.set(queue, `${queue}-${i}`)).toBe("STORED");
  c.close();
}

async function statusOf(server: ServerProcess): Promise<string> {
  const c = await server.client();
  const status = await c.call("status");
  c.close();
  return status;
}

test("a client consuming while the server drains empties it: exit 0, and the status found is put back", async () => {
  const { server, admin } = await start();
  await fill(server, "jobs", 300);
  await fill(server, "mail", 100);
  const mark = server.output.length;
  const drain = spawnKestrel(["drain", "--admin", admin, "--timeout", "60"]);
  await server.waitForLog(/status changed from 'up' to 'readonly' by 127\.0\.0\.1 \(admin HTTP\)/, mark);
  const c = await server.client();
  expect(await c.set("jobs", "late")).toBe("SERVER_ERROR server is readonly: sets are refused");
  c.close();

  const client = new KestrelClient({ servers: [`127.0.0.1:${server.port}`] });
  const seen = new Set<string>();
  const stop = new AbortController();
  const handler = async (data: Uint8Array) => {
    seen.add(new TextDecoder().decode(data));
    if (seen.size === 400) stop.abort();
  };
  await Promise.all(["jobs", "mail"].map((queue) => client.consume(queue, handler, { concurrency: 3, signal: stop.signal })));
  await client.close();

  const result = await drain.finished;
  expect(result.code).toBe(0);
  expect(seen.size).toBe(400);
  expect(result.stderr).toContain(`kestrel: drain ${admin}: status 'up' -> 'readonly'`);
  expect(result.stderr).toContain(`kestrel: drain ${admin}: drained: every queue is empty, nothing open\n`);
  expect(result.stderr).toContain(`kestrel: drain ${admin}: status 'readonly' -> 'up'`);
  await server.waitForLog(/status changed from 'readonly' to 'up' by 127\.0\.0\.1 \(admin HTTP\)/, mark);
  expect(await statusOf(server)).toBe("UP");
  expect(readFileSync(join(server.dataDir, ".kestrel", "status"), "utf8")).toBe("up\n");
});

test("an open item holds the drain until it is confirmed", async () => {
  const { server, admin } = await start();
  await fill(server, "jobs", 1);
  const reader = await server.client();
  expect(await reader.get("jobs/open")).toBe("jobs-0");
  const drain = spawnKestrel(["drain", "--admin", admin, "--timeout", "60"]);
  await drain.stderr.waitFor(/draining: 1 item \(1 open\) in 1 queue \(jobs 1 with 1 open\) left; \d+ s to go\n/);
  expect(await reader.get("jobs/close")).toBeNull();
  expect((await drain.finished).code).toBe(0);
  expect(await statusOf(server)).toBe("UP");
});

test("a timeout: exit 1, the line says what stays on the volume, and the status is still put back", async () => {
  const { server, admin } = await start();
  await fill(server, "jobs", 2);
  const result = await runKestrel(["drain", "--admin", admin, "--timeout", "1"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`kestrel: drain ${admin}: drain timed out after 1 s: 2 items in 1 queue (jobs 2) stay on the volume, served when the server is back\n`);
  expect(result.stderr).toContain(`kestrel: drain ${admin}: status 'readonly' -> 'up'`);
  expect(await statusOf(server)).toBe("UP");
  const c = await server.client();
  expect(await c.get("jobs")).toBe("jobs-0");
});

test("writeavoid is put back; an operator's readonly is left as it is; a quiescent server is not waited for", async () => {
  const { server, admin } = await start('default_status = "writeavoid"\n');
  const avoided = await runKestrel(["drain", "--admin", admin, "--timeout", "60"]);
  expect(avoided.code).toBe(0);
  expect(avoided.stderr).toContain("status 'readonly' -> 'writeavoid'");
  expect(await statusOf(server)).toBe("WRITEAVOID");

  await fill(server, "jobs", 1);
  const c = await server.client();
  for (const [status, expected] of [
    ["readonly", { code: 1, says: "drain timed out after 0.5 s: 1 item in 1 queue (jobs 1)" }],
    ["quiescent", { code: 0, says: "quiescent: it serves nothing, so nothing can drain; not waiting" }],
  ] as const) {
    expect(await c.call(`status ${status}`)).toBe("END");
    const mark = server.output.length;
    const result = await runKestrel(["drain", "--admin", admin, "--timeout", "0.5"]);
    expect({ status, code: result.code }).toEqual({ status, code: expected.code });
    expect(result.stderr).toContain(`status '${status}' (an operator's): left as it is\n`);
    expect(result.stderr).toContain(expected.says);
    expect(result.stderr).not.toContain("->");
    expect(server.output.slice(mark)).not.toContain("status changed");
    expect(await c.call("status")).toBe(status.toUpperCase());
  }
});

test("a status set by someone else during the drain is left as it is", async () => {
  const { server, admin } = await start();
  await fill(server, "jobs", 1);
  const drain = spawnKestrel(["drain", "--admin", admin, "--timeout", "3"]);
  await drain.stderr.waitFor(/draining: 1 item in 1 queue/);
  expect(await statusOf(server)).toBe("READONLY");
  const c = await server.client();
  expect(await c.call("status quiescent")).toBe("END");
  const result = await drain.finished;
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("status is now 'quiescent', set by someone else during the drain: left as it is\n");
  expect(await c.call("status")).toBe("QUIESCENT");
});

test("failures: admin port unreachable, status change refused (exit 1); bad usage (exit 2)", async () => {
  const dead = `127.0.0.1:${freePort()}`;
  const unreachable = await runKestrel(["drain", "--admin", dead, "--timeout", "5"]);
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toMatch(new RegExp(`^kestrel: drain ${dead}: GET /status: admin port unreachable \\(.+\\)\\n$`));

  const { server, admin } = await start('admin_commands = "none"\n');
  const refused = await runKestrel(["drain", "--admin", admin, "--timeout", "5"]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`kestrel: drain ${admin}: PUT /status readonly: HTTP 403: PUT /status is not allowed from 127.0.0.1`);
  expect(await statusOf(server)).toBe("UP");

  for (const args of [["drain"], ["drain", "--timeout", "5"], ["drain", "--admin", admin], ["drain", "--admin", "127.0.0.1", "--timeout", "5"], ["drain", "--admin", admin, "--timeout", "-1"], ["drain", "--admin", admin, "--timeout", "soon"], ["drain", "now", "--admin", admin, "--timeout", "5"], ["drain", "--admin", admin, "--timeout", "5", "--json"]]) {
    const result = await runKestrel(args);
    expect({ args, code: result.code, lines: result.stderr.split("\n").length }).toEqual({ args, code: 2, lines: 2 });
  }
  expect(await statusOf(server)).toBe("UP");
});

test("a server with an admin_token: the drain sends KESTREL_ADMIN_TOKEN with PUT /status, and fails (exit 1) without it", async () => {
  const token = "5b2e8f1c94d7a06e3b5c8d1f7a2e9c40";
  const { server, admin } = await start(`admin_token = "${token}"\n`);
  const refused = await runKestrel(["drain", "--admin", admin, "--timeout", "5"]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`kestrel: drain ${admin}: PUT /status readonly: HTTP 401: the admin token is required`);
  expect(await statusOf(server)).toBe("UP");
  const drained = spawnKestrel(["drain", "--admin", admin, "--timeout", "5"], undefined, { KESTREL_ADMIN_TOKEN: token });
  const { code, stderr } = await drained.finished;
  expect(code).toBe(0);
  expect(stderr).toContain("status 'up' -> 'readonly'");
  expect(stderr).toContain("status 'readonly' -> 'up'");
  expect(stderr).not.toContain(token);
});
