/**
 * The shipped form: build the single executable, then run it with nothing on PATH (no Node, no
 * Bun): serve, set and get, reload on SIGHUP, stop on SIGTERM; the operator commands, as the
 * Kubernetes preStop hook runs `kestrel drain` in an image with no shell; the dashboard, served
 * from inside the binary.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DASHBOARD_FILES } from "../../src/server/admin/dashboard_files.ts";
import { TestClient } from "../helpers/client.ts";
import { LogCapture } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "kestrel-binary-"));
const binary = join(dir, "kestrel");

beforeAll(async () => {
  const build = Bun.spawn([process.execPath, "build.ts", "--outfile", binary], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [code, stderr] = await Promise.all([build.exited, new Response(build.stderr).text()]);
  if (code !== 0) throw new Error(`build failed:\n${stderr}`);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the binary with an empty environment: nothing on PATH. */
function run(args: string[]) {
  return Bun.spawn([binary, ...args], { cwd: dir, env: { PATH: "" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

/** Serves from the binary with `config` (written to `<name>.toml`) and data in `<name>-data`. */
async function serve(name: string, config: string) {
  const configFile = join(dir, `${name}.toml`);
  writeFileSync(configFile, config);
  const server = run(["--host", "127.0.0.1", "--port", "0", "--data", join(dir, `${name}-data`), "--config", configFile]);
  const log = new LogCapture(server.stderr);
  const port = Number((await log.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
  return { server, log, port, configFile };
}

test("--version and --help need nothing but the binary", async () => {
  const version = run(["--version"]);
  expect((await new Response(version.stdout).text()).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  expect(await version.exited).toBe(0);
  expect(await run(["--help"]).exited).toBe(0);
});

test("serves with an empty PATH, reloads on SIGHUP and stops cleanly on SIGTERM", async () => {
  const { server, log, port, configFile: config } = await serve("kestrel", "[queues.small]\nmax_items = 1\n");
  const c = await TestClient.connect(port);
  expect(await c.set("small", "one")).toBe("STORED");
  expect(await c.set("small", "two")).toBe("NOT_STORED");

  writeFileSync(config, "[queues.small]\nmax_items = 5\n");
  const before = log.text.length;
  server.kill("SIGHUP");
  await log.waitFor(/reloaded config from/, before);
  expect(await c.set("small", "two")).toBe("STORED");
  expect(await c.get("small")).toBe("one");

  server.kill("SIGTERM");
  expect(await server.exited).toBe(0);
  await c.closed;
});

test("sync_journal = always over many queues: the binary's syncfs worker (made from a Blob) stands for their fsyncs", async () => {
  const { server, port } = await serve("always", 'sync_journal = "always"\n');
  const c = await TestClient.connect(port);
  const queues = Array.from({ length: 10 }, (_, i) => `s${i}`);
  for (let round = 0; Number((await c.stats()).get("journal_syncfs")) === 0; round++) {
    expect(round).toBeLessThan(500);
    // One set to each queue in one write: their fsyncs are asked for together.
    await c.send(queues.map((q) => `set ${q} 0 0 1\r\nx\r\n`).join(""));
    for (let i = 0; i < queues.length; i++) expect(await c.readLine()).toBe("STORED");
  }
  server.kill("SIGTERM");
  expect(await server.exited).toBe(0);
  await c.closed;
});

test("the operator commands run from the binary alone: status, cluster, and drain over admin HTTP", async () => {
  const { server, log, port } = await serve("admin", "admin_port = 0\n");
  const admin = (await log.waitFor(/admin HTTP on http:\/\/([^ ]+) /))[1]!;
  const finish = async (proc: ReturnType<typeof run>) => ({ code: await proc.exited, stdout: await new Response(proc.stdout).text(), stderr: await new Response(proc.stderr).text() });

  expect(await finish(run(["status", `127.0.0.1:${port}`]))).toEqual({ code: 0, stdout: "up\n", stderr: "" });
  const c = await TestClient.connect(port);
  expect(await c.set("jobs", "one")).toBe("STORED");
  const cluster = await finish(run(["cluster", "--servers", `127.0.0.1:${port}`, "--json"]));
  expect(JSON.parse(cluster.stdout)).toMatchObject({ items: 1, servers: [{ status: "up", queues: { jobs: { items: 1 } } }] });

  const timedOut = await finish(run(["drain", "--admin", admin, "--timeout", "0.5"]));
  expect(timedOut.code).toBe(1);
  expect(timedOut.stderr).toContain("1 item in 1 queue (jobs 1) stay on the volume");
  expect(await c.get("jobs")).toBe("one");
  const drained = await finish(run(["drain", "--admin", admin, "--timeout", "5"]));
  expect(drained.code).toBe(0);
  expect(drained.stderr).toContain("drained: every queue is empty");
  expect(await c.call("status")).toBe("UP");

  server.kill("SIGTERM");
  expect(await server.exited).toBe(0);
});

test("the dashboard comes from inside the binary: the page and every file it loads, as in the source", async () => {
  const { server, log } = await serve("dashboard", "admin_port = 0\n");
  const admin = (await log.waitFor(/admin HTTP on http:\/\/([^ ]+) /))[1]!;
  expect(DASHBOARD_FILES.size).toBeGreaterThan(2);
  for (const [path, { file, type }] of DASHBOARD_FILES) {
    const response = await fetch(`http://${admin}${path}`);
    expect([path, response.status, response.headers.get("content-type")]).toEqual([path, 200, type]);
    expect(await response.text()).toBe(readFileSync(file, "utf8"));
  }
  server.kill("SIGTERM");
  expect(await server.exited).toBe(0);
});
