/**
 * The server status on real servers: the `status` command over TCP, its persistence in
 * queue_path across a kill -9, `default_status`, a damaged status file, and the admin HTTP
 * /status, /health, /stats.json and /metrics. The gate itself (which get refuses what) is
 * covered in test/server/status_gate.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.kill9();
    server.removeData();
  }
});

async function start(options: Parameters<typeof ServerProcess.start>[0] = {}): Promise<ServerProcess> {
  const server = await ServerProcess.start(options);
  servers.push(server);
  return server;
}

describe("over the memcache port", () => {
  test("a status set survives kill -9: the restarted server still refuses sets, and the change was logged with the peer", async () => {
    const server = await start();
    const c = await server.client();
    expect(await c.call("status")).toBe("UP");
    expect(await c.set("jobs", "one")).toBe("STORED");
    const mark = server.output.length;
    expect(await c.call("status READONLY")).toBe("END");
    await server.waitForLog(/INFO  status changed from 'up' to 'readonly' by 127\.0\.0\.1\n/, mark);
    expect(await c.set("jobs", "two")).toBe("SERVER_ERROR server is readonly: sets are refused");
    expect(await c.call("status")).toBe("READONLY");
    expect(readFileSync(join(server.dataDir, ".kestrel", "status"), "utf8")).toBe("readonly\n");
    c.close();
    await server.kill9();

    const again = await server.restart();
    servers.push(again);
    await again.waitForLog(/status 'readonly' restored from /);
    const d = await again.client();
    expect(await d.call("status")).toBe("READONLY");
    expect(await d.set("jobs", "three")).toBe("SERVER_ERROR server is readonly: sets are refused");
    expect(await d.get("jobs")).toBe("one");
    expect((await d.stats()).get("status")).toBe("readonly");
    expect(await d.call("status quiescent")).toBe("END");
    expect(await d.call("get jobs")).toBe("SERVER_ERROR server is quiescent: gets are refused");
  });

  test("default_status applies when nothing was saved; a saved status wins over it at later starts", async () => {
    const server = await start({ config: 'default_status = "quiescent"\n' });
    await server.waitForLog(/status 'quiescent' \(default_status; none saved in /);
    const c = await server.client();
    expect(await c.call("status")).toBe("QUIESCENT");
    expect(await c.call("get jobs")).toBe("SERVER_ERROR server is quiescent: gets are refused");
    expect(await c.call("status writeavoid")).toBe("END");
    expect(await c.set("jobs", "x")).toBe("STORED");
    c.close();
    await server.kill9();
    const again = await server.restart();
    servers.push(again);
    expect(await (await again.client()).call("status")).toBe("WRITEAVOID");
  });

  test("a damaged status file is logged and the server starts readonly", async () => {
    const server = await start();
    expect(await (await server.client()).call("status up")).toBe("END");
    await server.kill9();
    writeFileSync(join(server.dataDir, ".kestrel", "status"), "upp");
    const again = await server.restart();
    servers.push(again);
    await again.waitForLog(/ERROR saved status in \S+ ignored, it holds "upp", not a status; starting 'readonly'/);
    const c = await again.client();
    expect(await c.call("status")).toBe("READONLY");
    expect(await c.call("status up")).toBe("END");
    expect(readFileSync(join(server.dataDir, ".kestrel", "status"), "utf8")).toBe("up\n");
  });

  test('reading the status is open to every client; changing it is an admin command (admin_commands = "none")', async () => {
    const server = await start({ config: 'admin_commands = "none"\ndefault_status = "writeavoid"\n' });
    const c = await server.client();
    expect(await c.call("status")).toBe("WRITEAVOID");
    const mark = server.output.length;
    expect(await c.call("status up")).toBe("CLIENT_ERROR status is not allowed from 127.0.0.1");
    await server.waitForLog(/WARN  refused admin command 'status up' from 127\.0\.0\.1 \(admin_commands = "none"\)\n/, mark);
    expect(await c.call("status")).toBe("WRITEAVOID");
  });

  test("a client blocked in a get when the server becomes quiescent is answered SERVER_ERROR and can go on", async () => {
    const server = await start();
    const waiter = await server.client();
    const admin = await server.client();
    await waiter.send("get jobs/t=60000\r\n");
    // The wait has begun once the queue reports a waiter.
    while ((await admin.stats()).get("queue_jobs_waiters") !== "1");
    expect(await admin.call("status quiescent")).toBe("END");
    expect(await waiter.readLine()).toBe("SERVER_ERROR server is quiescent: gets are refused");
    expect(await waiter.call("status")).toBe("QUIESCENT");
  });
});

describe("over admin HTTP", () => {
  test("GET and PUT /status; /health, /stats.json and /metrics show it", async () => {
    const server = await start({ config: "admin_port = 0\n" });
    const admin = `http://${await server.adminAddress()}`;
    const c = await server.client();
    const get = await fetch(`${admin}/status`);
    expect([get.status, await get.text()]).toEqual([200, "up\n"]);

    const mark = server.output.length;
    const put = await fetch(`${admin}/status`, { method: "PUT", body: "ReadOnly\n" });
    expect([put.status, await put.text()]).toEqual([200, "readonly\n"]);
    await server.waitForLog(/INFO  status changed from 'up' to 'readonly' by 127\.0\.0\.1 \(admin HTTP\)\n/, mark);
    expect(await c.call("status")).toBe("READONLY");

    expect(await (await fetch(`${admin}/health`)).json()).toEqual({ status: "ok", server_status: "readonly", queues: 0, failing: [] });
    const stats = (await (await fetch(`${admin}/stats.json`)).json()) as { server: Record<string, unknown> };
    expect(stats.server.status).toBe("readonly");
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain("# TYPE kestrel_status gauge\n");
    for (const [status, value] of [["up", 0], ["writeavoid", 0], ["readonly", 1], ["quiescent", 0]]) {
      expect(metrics).toContain(`kestrel_status{status="${status}"} ${value}\n`);
    }

    const bad = await fetch(`${admin}/status`, { method: "PUT", body: "down" });
    expect([bad.status, await bad.text()]).toEqual([400, 'unknown status "down": expected one of up, writeavoid, readonly, quiescent\n']);
    const huge = await fetch(`${admin}/status`, { method: "PUT", body: "up".padEnd(1 << 20) });
    expect(huge.status).toBe(413);
    const post = await fetch(`${admin}/status`, { method: "POST", body: "up" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, PUT"]);
    expect(await c.call("status")).toBe("READONLY");
  });

  test('PUT /status follows admin_commands: "none" refuses it with 403 and changes nothing', async () => {
    const server = await start({ config: 'admin_port = 0\nadmin_commands = "none"\n' });
    const admin = `http://${await server.adminAddress()}`;
    const mark = server.output.length;
    const put = await fetch(`${admin}/status`, { method: "PUT", body: "quiescent" });
    expect([put.status, await put.text()]).toEqual([403, 'PUT /status is not allowed from 127.0.0.1 (admin_commands = "none")\n']);
    await server.waitForLog(/WARN  refused admin command 'PUT \/status quiescent' from 127\.0\.0\.1 \(admin HTTP\)/, mark);
    expect(await (await fetch(`${admin}/status`)).text()).toBe("up\n");
  });

  test("with an auth file, PUT /status needs one of its users (HTTP Basic)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "users"), "alice:s3cret:x\n", { mode: 0o600 });
    const server = await start({ configPath: join(dir, "kestrel.toml"), config: 'admin_port = 0\nauth_file = "users"\n' });
    const admin = `http://${await server.adminAddress()}`;
    const put = (authorization?: string) =>
      fetch(`${admin}/status`, { method: "PUT", body: "readonly", headers: authorization === undefined ? {} : { authorization } });
    for (const authorization of [undefined, `Basic ${btoa("alice:wrong")}`, `Basic ${btoa("bob:s3cret:x")}`, "Bearer x"]) {
      const refused = await put(authorization);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toBe('Basic realm="kestrel"');
    }
    expect(await (await fetch(`${admin}/status`)).text()).toBe("up\n");
    const mark = server.output.length;
    const allowed = await put(`Basic ${btoa("alice:s3cret:x")}`);
    expect([allowed.status, await allowed.text()]).toEqual([200, "readonly\n"]);
    await server.waitForLog(/INFO  admin command 'PUT \/status readonly' from 127\.0\.0\.1 \(admin HTTP, user 'alice'\)\n/, mark);
  });
});
