/**
 * `kestrel cluster` against real servers: the table and the --json document over servers with
 * queues, open items and different statuses, an unreachable server listed among the others
 * (exit 1), --dns resolved as the client resolves it, and usage errors (exit 2).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { systemResolver } from "../../src/client/cluster.ts";
import type { TestClient } from "../helpers/client.ts";
import { cleanUpServers, freePort, runKestrel, ServerProcess } from "../helpers/server.ts";

const QUEUE_STATS = ["items", "bytes", "total_items", "logsize", "expired_items", "mem_items", "mem_bytes", "age", "discarded", "waiters", "open_transactions", "open_transactions_timed_out",
  "transactions", "canceled_transactions", "total_flushes", "journal_rewrites", "journal_rotations"];

let busy: ServerProcess;
let idle: ServerProcess;
let reader: TestClient;
let busyAddress: string;
let idleAddress: string;
let deadAddress: string;

beforeAll(async () => {
  [busy, idle] = await Promise.all([ServerProcess.start(), ServerProcess.start()]);
  busyAddress = `127.0.0.1:${busy.port}`;
  idleAddress = `127.0.0.1:${idle.port}`;
  deadAddress = `127.0.0.1:${freePort()}`;
  const c = await busy.client();
  for (const item of ["a", "b", "c"]) expect(await c.set("jobs", item)).toBe("STORED");
  // A queue name with underscores that could be read as another queue's stat in `stats`.
  expect(await c.set("mail_total", "m")).toBe("STORED");
  c.close();
  // One item of jobs open on a connection kept for the whole file.
  reader = await busy.client();
  expect(await reader.get("jobs/open")).toBe("a");
  expect(await (await idle.client()).call("status readonly")).toBe("END");
});

afterAll(cleanUpServers);

test("one table of every server; an unreachable one gets its row and a line on stderr, and the exit code is 1", async () => {
  const result = await runKestrel(["cluster", "--servers", `${busyAddress},${deadAddress},${idleAddress}`]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^kestrel: ${deadAddress}: could not connect: .*ECONNREFUSED.*\\n$`));
  const rows = result.stdout.trimEnd().split("\n").map((line) => line.split(/ +/));
  expect(rows[0]).toEqual(["SERVER", "STATUS", "QUEUE", "ITEMS", "OPEN", "AGE_MS"]);
  expect(rows.slice(1, -1).map((row) => row.slice(0, 5))).toEqual([
    [busyAddress, "up", "jobs", "2", "1"],
    [busyAddress, "up", "mail_total", "1", "0"],
    [deadAddress, "unreachable", "-", "-", "-"],
    [idleAddress, "readonly", "-", "0", "0"],
  ]);
  expect(rows[1]![5]).toMatch(/^\d+$/);
  expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("total: 3 servers, 1 unreachable; 3 items, 1 open");
});

test("--json: one document with every server, its status, error and every queue figure", async () => {
  const result = await runKestrel(["cluster", "--servers", `${busyAddress},${idleAddress},${deadAddress}`, "--json"]);
  expect(result.code).toBe(1);
  const doc = JSON.parse(result.stdout) as {
    servers: Array<{ server: string; status: string | null; error: string | null; queues: Record<string, Record<string, number>> | null }>;
  };
  expect(Object.keys(doc)).toEqual(["servers", "items", "open_transactions", "unreachable"]);
  expect(doc).toMatchObject({ items: 3, open_transactions: 1, unreachable: 1 });
  const [first, second, third] = doc.servers;
  expect(first).toMatchObject({ server: busyAddress, status: "up", error: null });
  expect(Object.keys(first!.queues!)).toEqual(["jobs", "mail_total"]);
  for (const figures of Object.values(first!.queues!)) {
    expect(Object.keys(figures)).toEqual(QUEUE_STATS);
    for (const value of Object.values(figures)) expect(typeof value).toBe("number");
  }
  expect(first!.queues!.jobs).toMatchObject({ items: 2, open_transactions: 1, total_items: 3 });
  expect(first!.queues!.mail_total).toMatchObject({ items: 1, open_transactions: 0 });
  expect(second).toEqual({ server: idleAddress, status: "readonly", error: null, queues: {} });
  expect(third).toMatchObject({ server: deadAddress, status: null, queues: null });
  expect(third!.error).toMatch(/^could not connect: .*ECONNREFUSED/);
});

test("every server answering: exit 0, nothing on stderr", async () => {
  const result = await runKestrel(["cluster", "--servers", `${idleAddress},${busyAddress}`]);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
  expect(result.stdout).toContain("total: 2 servers; 3 items, 1 open\n");
});

test("--dns NAME --port N: a row for every address the name resolves to, as the client resolves it", async () => {
  const addresses = [...new Set(await systemResolver("localhost"))];
  const result = await runKestrel(["cluster", "--dns", "localhost", "--port", String(busy.port), "--json"]);
  const doc = JSON.parse(result.stdout) as { servers: Array<{ server: string; status: string | null }> };
  const expected = addresses.map((address) => ({ server: address.includes(":") ? `[${address}]:${busy.port}` : `${address}:${busy.port}`, status: address === "127.0.0.1" ? "up" : null }));
  expect(doc.servers.map(({ server, status }) => ({ server, status })).sort((a, b) => a.server.localeCompare(b.server))).toEqual(expected.sort((a, b) => a.server.localeCompare(b.server)));
  expect(result.code).toBe(addresses.every((address) => address === "127.0.0.1") ? 0 : 1);
});

test("a name that does not resolve: one line, exit 1", async () => {
  const result = await runKestrel(["cluster", "--dns", "no-such-host.invalid"]);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe("");
  expect(result.stderr).toStartWith("kestrel: cluster: can't resolve no-such-host.invalid: ");
  expect(result.stderr.split("\n").length).toBe(2);
});

test("bad usage: exit 2, one line", async () => {
  const cases = [
    ["cluster"],
    ["cluster", "--servers", busyAddress, "--dns", "localhost"],
    ["cluster", "--servers", busyAddress, "--port", "22133"],
    ["cluster", "--servers", ","],
    ["cluster", "--servers", "127.0.0.1:0"],
    ["cluster", "--dns", "localhost", "--port", "http"],
    ["cluster", "--servers", busyAddress, "extra"],
    ["cluster", "--servers", busyAddress, "--timeout", "3"],
  ];
  for (const args of cases) {
    const result = await runKestrel(args);
    expect({ args, code: result.code, lines: result.stderr.split("\n").length, stdout: result.stdout }).toEqual({ args, code: 2, lines: 2, stdout: "" });
  }
});
