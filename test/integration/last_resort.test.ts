/**
 * Errors that escape every handler (a bug, planted by test/helpers/bug_preload.ts) are one log
 * line, never a stack trace or a source excerpt (minified, in the binary): anywhere else the
 * server ends with exit 1; in an admin HTTP request the request gets a 500 and the server goes on;
 * in a command's work that comes after its request ran (a blocking get's reply, once its wait
 * ended) that client gets SERVER_ERROR and the server goes on.
 */
import { expect, test } from "bun:test";
import { BUG_PRELOAD, ServerProcess } from "../helpers/server.ts";

/** What the server logged, without the preload's own lines. */
const logged = (output: string): string => output.replace(/^test bug: \w+\n/gm, "");

/** What the process wrote besides its timestamped log lines. */
function strayLines(output: string): string[] {
  return logged(output).split("\n").filter((line) => line !== "" && !/^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO |WARN |ERROR) /.test(line));
}

for (const bug of ["thrown", "rejected"]) {
  test(`an uncaught error (${bug}): one ERROR line, exit 1`, async () => {
    const server = await ServerProcess.start({ preload: BUG_PRELOAD, env: { KESTREL_TEST_BUG: bug } });
    const c = await server.client();
    expect(await c.set("q", "x")).toBe("STORED");
    const mark = server.output.length;
    server.proc.kill("SIGUSR1");
    expect(await server.exited()).toBe(1);
    expect(logged(server.output.slice(mark))).toMatch(new RegExp(`^\\S+ ERROR internal error, exiting: injected bug \\(${bug}\\)\\n$`));
    expect(strayLines(server.output)).toEqual([]);
    const again = await server.restart({ preload: undefined, env: undefined });
    const d = await again.client();
    expect(await d.get("q")).toBe("x");
    d.close();
    expect(await again.stop()).toBe(0);
  });
}

test("an error in an admin HTTP request: a 500, one ERROR line, and the server goes on", async () => {
  const server = await ServerProcess.start({ preload: BUG_PRELOAD, env: { KESTREL_TEST_BUG: "admin" }, config: "admin_port = 0\n" });
  const admin = (await server.waitForLog(/admin HTTP on (http:\/\/[^ ]+)/))[1]!;
  const mark = server.output.length;
  server.proc.kill("SIGUSR1");
  await server.waitForLog(/test bug: planted/, mark);
  const failed = await fetch(`${admin}/health`);
  expect(failed.status).toBe(500);
  expect(await failed.text()).toBe("internal error\n");
  expect((await fetch(`${admin}/health`)).status).toBe(200);
  expect(logged(server.output.slice(mark))).toMatch(/^\S+ ERROR admin HTTP: internal error in GET \/health: injected bug \(admin\)\n$/);
  expect(strayLines(server.output)).toEqual([]);
  expect(await server.stop()).toBe(0);
});

test("an error in a command's later work (a blocking get's reply after its wait): SERVER_ERROR, one ERROR line, and the server goes on", async () => {
  const server = await ServerProcess.start({ preload: BUG_PRELOAD, env: { KESTREL_TEST_BUG: "reply" } });
  const c = await server.client();
  const mark = server.output.length;
  server.proc.kill("SIGUSR1");
  await server.waitForLog(/test bug: planted/, mark);
  // Its wait ends with no item: the reply made then throws.
  expect(await c.call("get q/t=20")).toBe("SERVER_ERROR internal error");
  expect(logged(server.output.slice(mark))).toMatch(/^\S+ ERROR internal error serving a read after its wait: injected bug \(reply\)\n$/);
  // The connection goes on, and so do the others.
  expect(await c.set("q", "x")).toBe("STORED");
  const d = await server.client();
  expect(await d.get("q/t=20")).toBe("x");
  expect(await c.get("q")).toBe(null);
  expect(strayLines(server.output)).toEqual([]);
  c.close();
  d.close();
  expect(await server.stop()).toBe(0);
});
