/**
 * `kestrel-bun/client` through package.json `exports`: Bun loads the TypeScript source, Node
 * (>= 20) the JavaScript that `npm run build:client` compiles (against Node's types only, so a
 * Bun API in the client fails the build).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import * as fromSource from "../../src/client/index.ts";
import { ServerProcess } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start();
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

test("Bun imports kestrel-bun/client from the source", async () => {
  const { KestrelClient } = await import("kestrel-bun/client");
  expect(KestrelClient).toBe(fromSource.KestrelClient);
});

test("Node imports kestrel-bun/client from the compiled build, and it works against a real server", async () => {
  const build = Bun.spawnSync(["npm", "run", "--silent", "build:client"], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
  expect(`${build.stdout}${build.stderr}`).toBe("");
  expect(build.exitCode).toBe(0);
  const node = Bun.spawnSync(["node", join(import.meta.dir, "node", "smoke.mjs"), `127.0.0.1:${server.port}`], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
  expect(node.stderr.toString()).toBe("");
  const seen = JSON.parse(node.stdout.toString());
  expect(Number(seen.node.split(".")[0])).toBeGreaterThanOrEqual(20);
  expect(seen).toEqual({
    node: seen.node,
    bun: null,
    first: "from node",
    again: "from node",
    server: `127.0.0.1:${server.port}`,
    second: [0, 1, 2, 255],
    empty: null,
    consumed: ["consumed"],
    error: "NoServerError",
  });
});
