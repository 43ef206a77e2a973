import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runKestrel, ServerProcess } from "../helpers/server.ts";

test("a second server on the same queue_path is refused; after a kill -9 the lock is taken over", async () => {
  const server = await ServerProcess.start();
  const second = await runKestrel(["--host", "127.0.0.1", "--port", "0", "--data", server.dataDir]);
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`is in use by another kestrel (pid ${server.proc.pid})`);
  expect(JSON.parse(readFileSync(join(server.dataDir, ".kestrel", "lock"), "utf8")).pid).toBe(server.proc.pid);

  await server.kill9();
  const again = await server.restart();
  expect(again.output).toContain("taking the directory over");
  expect(await again.stop()).toBe(0);
  again.removeData();
});
