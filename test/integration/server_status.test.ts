/**
 * The server status on real servers: the `status` command over TCP, its persistence in
 * queue_path across a kill -9, `default_status` and a damaged status file. The gate itself (which get refuses what) is
 * covered in test/server/status_gate.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";

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
