/**
 * The shipped form: build the single executable, then run it with nothing on PATH (no Node, no
 * Bun): serve, set and get, reload on SIGHUP, stop on SIGTERM.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

test("--version and --help need nothing but the binary", async () => {
  const version = run(["--version"]);
  expect((await new Response(version.stdout).text()).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  expect(await version.exited).toBe(0);
  expect(await run(["--help"]).exited).toBe(0);
});

test("serves with an empty PATH, reloads on SIGHUP and stops cleanly on SIGTERM", async () => {
  const config = join(dir, "kestrel.toml");
  writeFileSync(config, "[queues.small]\nmax_items = 1\n");
  const server = run(["--host", "127.0.0.1", "--port", "0", "--data", join(dir, "data"), "--config", config]);
  const log = new LogCapture(server.stderr);
  const port = Number((await log.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
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
