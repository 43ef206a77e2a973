/**
 * log_file and log_level: the server writes its log to the configured file (nothing to stderr),
 * the level filters it, and every line carries a timestamp and a level.
 */
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestClient } from "../helpers/client.ts";
import { freePort, MAIN } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/**
 * Connects once the server listens (each refused connect is an event, not a sleep) and round-trips
 * one command, so everything the server logged before serving is in the file.
 */
async function whenServing(proc: Bun.Subprocess, port: number): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    const client = await TestClient.connect(port).catch(() => null);
    if (client === null) continue;
    expect(await client.call("version")).toMatch(/^VERSION /);
    client.close();
    return;
  }
}

test("log_file takes the log, log_level filters it, every line has a time and a level", async () => {
  const dir = tempDir();
  const logFile = join(dir, "kestrel.log");
  const config = join(dir, "kestrel.toml");
  const run = async (level: string): Promise<string> => {
    const port = freePort();
    writeFileSync(config, `log_file = "kestrel.log"\nlog_level = "${level}"\nhost = "127.0.0.1"\nport = ${port}\nqueue_path = "data"\n`);
    const proc = Bun.spawn([process.execPath, MAIN, "--config", config], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    await whenServing(proc, port);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stderr).text()).toBe("");
    return `listening on 127.0.0.1:${port}`;
  };

  const listening = await run("info");
  const firstRun = readFileSync(logFile, "utf8");
  expect(firstRun).toContain(listening);
  expect(firstRun).toContain("INFO  stopped");
  for (const line of firstRun.trim().split("\n")) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \S/);

  await run("warn");
  expect(readFileSync(logFile, "utf8")).toBe(firstRun);
});
