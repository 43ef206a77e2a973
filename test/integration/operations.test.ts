import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe("operations", () => {
  test("reload applies queue settings live; a bad file is refused and the old config kept", async () => {
    const configPath = join(tempDir(), "kestrel.toml");
    const server = await ServerProcess.start({ configPath, config: "[queues.r]\nmax_items = 1\n" });
    const c = await server.client();
    expect(await c.set("r", "1")).toBe("STORED");
    expect(await c.set("r", "2")).toBe("NOT_STORED");
    writeFileSync(configPath, "[queues.r]\nmax_items = 3\n");
    expect(await c.call("reload")).toBe("Reloaded config.");
    expect(await c.set("r", "2")).toBe("STORED");
    writeFileSync(configPath, "[queues.r]\nmax_items = \"three\"\n");
    expect(await c.call("reload")).toMatch(/^SERVER_ERROR reload failed: .*kestrel\.toml: queues\.r\.max_items: expected/);
    expect(await c.set("r", "3")).toBe("STORED");
    expect(await c.set("r", "4")).toBe("NOT_STORED");
    writeFileSync(configPath, "[queues.r]\nmax_items = 4\n");
    const mark = server.output.length;
    server.proc.kill("SIGHUP");
    await server.waitForLog(/reloaded config from/, mark);
    expect(await c.set("r", "4")).toBe("STORED");
    c.close();
    expect(await server.stop()).toBe(0);
    server.removeData();
  });

  test("the shutdown command stops the server cleanly, keeping every item", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    await c.set("s", "kept");
    await c.send("shutdown\r\n");
    expect(await server.exited()).toBe(0);
    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.get("s")).toBe("kept");
    c2.close();
    await again.stop();
    again.removeData();
  });

  test("connections beyond max_connections are refused with an error", async () => {
    const server = await ServerProcess.start({ config: "max_connections = 2\n" });
    const a = await server.client();
    const b = await server.client();
    expect(await a.call("version")).toMatch(/^VERSION/);
    expect(await b.call("version")).toMatch(/^VERSION/);
    const refused = await server.client();
    expect(await refused.readLine()).toBe("SERVER_ERROR too many connections");
    await refused.closed;
    a.close();
    await a.closed;
    for (;;) if ((await b.stats()).get("curr_connections") === "1") break;
    const c = await server.client();
    expect(await c.call("version")).toMatch(/^VERSION/);
    for (const client of [b, c]) client.close();
    await server.stop();
    server.removeData();
  });
});

test("clients of a server that went away see a closed connection, not a hang", async () => {
  const server = await ServerProcess.start();
  const c = await TestClient.connect(server.port);
  await server.kill9();
  await c.closed;
  server.removeData();
});
