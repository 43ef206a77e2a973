/**
 * docs/cluster.md's "Try it on one machine", as written: three servers, examples/cluster_demo.ts
 * through `kestrel-bun/client`, `kestrel cluster`, and taking the third server out with
 * `kestrel status` (readonly: new items go to the other two; quiescent: kept across a restart).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { KestrelClient } from "../../src/client/index.ts";
import { cleanUpServers, freePort, runKestrel, ServerProcess } from "../helpers/server.ts";

afterAll(cleanUpServers);

const DEMO = join(import.meta.dir, "..", "..", "examples", "cluster_demo.ts");

test("the walkthrough of docs/cluster.md: demo, cluster table, readonly then quiescent", async () => {
  const ports = [freePort(), freePort(), freePort()];
  const servers = await Promise.all(ports.map((port) => ServerProcess.start({ args: ["--port", String(port)] })));
  const list = ports.map((port) => `127.0.0.1:${port}`);

  const demo = Bun.spawnSync([process.execPath, DEMO, list.join(","), "300"], { stdout: "pipe", stderr: "pipe" });
  expect(demo.stderr.toString()).toBe("");
  expect(demo.exitCode).toBe(0);
  expect(demo.stdout.toString()).toMatch(/^put 300 items in \d+ ms; consumed 300 \(0 duplicates, 0 missing\)/);

  expect((await runKestrel(["status", list[2]!, "readonly"])).stdout).toBe("readonly\n");
  const client = new KestrelClient({ servers: list });
  await client.refreshStatus();
  for (let i = 0; i < 60; i++) await client.put("jobs", `job ${i}`);
  await client.close();

  const table = await runKestrel(["cluster", "--servers", list.join(",")]);
  expect(table.code).toBe(0);
  const jobs = table.stdout.split("\n").filter((row) => / jobs /.test(row));
  expect(jobs.some((row) => row.startsWith(list[2]!))).toBe(false);
  expect(jobs.reduce((sum, row) => sum + Number(row.trim().split(/\s+/)[3]), 0)).toBe(60);
  expect(table.stdout).toMatch(/total: 3 servers; 60 items, 0 open/);

  expect((await runKestrel(["status", list[2]!, "quiescent"])).stdout).toBe("quiescent\n");
  expect(await servers[2]!.stop()).toBe(0);
  const again = await servers[2]!.restart({ args: ["--port", String(ports[2])] });
  expect((await runKestrel(["status", list[2]!])).stdout).toBe("quiescent\n");
  expect((await runKestrel(["status", list[2]!, "up"])).stdout).toBe("up\n");
  for (const server of [servers[0]!, servers[1]!, again]) expect(await server.stop()).toBe(0);
}, 60_000);
