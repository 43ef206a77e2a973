/**
 * Out of file descriptors (a real limit, set on the running server with prlimit): a journal
 * rotation that can't open its new segment changes nothing, the queue keeps taking items, and the
 * rotation happens once descriptors are free again. Nothing acknowledged is lost. The memcache
 * port closes (instead of the server spinning on a failing accept) while the connections open
 * are served, and opens again once descriptors are free.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

const hasPrlimit = spawnSync("prlimit", ["--version"]).status === 0;

/** Sets the soft limit on open files of `pid` (the hard one stays: raising it back needs privileges). */
function setFileLimit(pid: number, soft: number): void {
  const result = spawnSync("prlimit", ["--pid", String(pid), `--nofile=${soft}:`]);
  if (result.status !== 0) throw new Error(`prlimit failed: ${result.stderr}`);
}

/** The number the next descriptor `pid` opens would get: with the soft limit there, it can open none. */
function lowestFreeDescriptor(pid: number): number {
  const open = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  let fd = 0;
  while (open.has(fd)) fd++;
  return fd;
}

test.skipIf(!hasPrlimit)("a rotation without a free descriptor is put off, not half done; items keep being stored", async () => {
  const server = await ServerProcess.start({ config: 'max_journal_size = "16KiB"\n' });
  const pid = server.proc.pid;
  const c = await server.client();
  const acked: string[] = [];
  const set = async (data: string) => {
    expect(await c.set("fd", data)).toBe("STORED");
    acked.push(data);
  };
  await set("first");
  // No descriptor may be created. The server notices within a second and closes its port, which
  // frees the listening socket's descriptor: that one is taken away too.
  const full = server.output.length;
  setFileLimit(pid, lowestFreeDescriptor(pid));
  await server.waitForLog(/out of file descriptors \(EMFILE\): not accepting connections/, full);
  setFileLimit(pid, lowestFreeDescriptor(pid));
  const mark = server.output.length;
  for (let i = 0; i < 60; i++) await set(`${i}:${"y".repeat(500)}`);
  await server.waitForLog(/queue 'fd': could not rotate the journal, appending to the current segment .*EMFILE/, mark);
  expect(server.output.slice(mark).match(/could not rotate/g)?.length).toBe(1);

  setFileLimit(pid, 1024);
  const restored = server.output.length;
  await set("after");
  await server.waitForLog(/queue 'fd': journal rotation works again/, restored);
  c.close();
  await server.kill9();
  const again = await server.restart();
  const c2 = await again.client();
  expect(await c2.drain("fd")).toEqual(acked);
  c2.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
});

/** A client that connected at the descriptor limit and was served, or null if it was refused. */
async function tryClient(server: ServerProcess): Promise<TestClient | null> {
  let client: TestClient;
  try {
    client = await server.client();
  } catch {
    return null; // connection refused: the port is closed
  }
  try {
    const reply = await client.call("version");
    if (reply.startsWith("VERSION ")) return client;
    expect(reply).toBe("SERVER_ERROR out of file descriptors (EMFILE)");
  } catch (error) {
    // Closed before a reply: it was waiting in the backlog when the port closed.
    if (!String(error).includes("connection closed")) throw error;
  }
  client.close();
  return null;
}

test.skipIf(!hasPrlimit)("out of descriptors, the port closes instead of spinning; open connections are served; it opens again", async () => {
  const server = await ServerProcess.start();
  const pid = server.proc.pid;
  const keeper = await server.client();
  expect(await keeper.set("fd", "kept")).toBe("STORED");
  setFileLimit(pid, lowestFreeDescriptor(pid) + 12);
  const mark = server.output.length;

  // Every client gets an answer (before: the first past the limit hung, the server spinning).
  const served: TestClient[] = [];
  for (let i = 0; i < 30; i++) {
    const client = await tryClient(server);
    if (client !== null) served.push(client);
  }
  expect(served.length).toBeGreaterThan(0);
  expect(served.length).toBeLessThan(30);
  await server.waitForLog(/WARN +out of file descriptors \(EMFILE\): not accepting connections on 127\.0\.0\.1:\d+ until some are free/, mark);

  const stats = await keeper.stats();
  expect(Number(stats.get("listen_backoffs"))).toBeGreaterThanOrEqual(1);
  expect(stats.get("accepting")).toBe("0");
  expect(await keeper.get("fd")).toBe("kept");
  for (const c of served) expect(await c.call("version")).toMatch(/^VERSION /);

  const resumed = server.output.length;
  for (const c of served) c.close();
  setFileLimit(pid, 1024);
  await server.waitForLog(/INFO +accepting connections on 127\.0\.0\.1:\d+ again/, resumed);
  const late = await server.client();
  expect(await late.call("version")).toMatch(/^VERSION /);
  expect((await late.stats()).get("accepting")).toBe("1");
  late.close();
  keeper.close();
  expect(await server.stop()).toBe(0);
});

test.skipIf(!hasPrlimit)("out of descriptors, the admin port closes too instead of spinning, and opens again", async () => {
  const server = await ServerProcess.start({ config: "admin_port = 0\n" });
  const admin = await server.adminAddress();
  const [, adminPort] = admin.split(":");
  const keeper = await server.client();
  setFileLimit(server.proc.pid, lowestFreeDescriptor(server.proc.pid) + 4);
  const mark = server.output.length;
  // Connections that send nothing: those past the limit waited in the backlog while Bun retried
  // the failing accept() at once and forever (80-98% of a core, and nothing logged).
  const silent = await Promise.all(Array.from({ length: 10 }, () => Bun.connect({ hostname: "127.0.0.1", port: Number(adminPort), socket: { data() {} } })));
  await server.waitForLog(new RegExp(`WARN +out of file descriptors \\(EMFILE\\): not accepting connections on 127\\.0\\.0\\.1:${adminPort} until some are free`), mark);
  expect(Number((await keeper.stats()).get("listen_backoffs"))).toBeGreaterThanOrEqual(1);

  const resumed = server.output.length;
  for (const socket of silent) socket.end();
  setFileLimit(server.proc.pid, 1024);
  await server.waitForLog(new RegExp(`INFO +accepting connections on 127\\.0\\.0\\.1:${adminPort} again`), resumed);
  const health = await fetch(`http://${admin}/health`);
  expect(health.status).toBe(200);
  keeper.close();
  expect(await server.stop()).toBe(0);
});
