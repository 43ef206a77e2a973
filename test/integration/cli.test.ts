import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, runKestrel, ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe("command line", () => {
  test("--version and --help", async () => {
    const version = await runKestrel(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const help = await runKestrel(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage:");
  });

  test("a bad config file is one clear line naming the file, key and expected type, exit 2", async () => {
    const dir = tempDir();
    const file = join(dir, "kestrel.toml");
    writeFileSync(file, `[queues.jobs]\nmax_items = "many"\n`);
    const result = await runKestrel(["--config", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`kestrel: ${file}: queues.jobs.max_items: expected a whole number or "unlimited", got "many"\n`);
  });

  test("a missing config file, an unknown option and a bad port are usage errors", async () => {
    expect((await runKestrel(["--config", "/nonexistent/kestrel.toml"])).stderr).toBe("kestrel: /nonexistent/kestrel.toml: config file not found\n");
    const unknown = await runKestrel(["--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toStartWith("kestrel: ");
    expect(unknown.stderr.split("\n").length).toBe(2);
    expect((await runKestrel(["--port", "http"])).code).toBe(2);
    expect((await runKestrel(["frobnicate"])).code).toBe(2);
  });

  test("an option value that starts with a dash is one line too (node:util explains it over three)", async () => {
    const result = await runKestrel(["--port", "-1"]);
    expect(result).toEqual({ stdout: "", stderr: "kestrel: Option '--port' argument is ambiguous. (see kestrel --help)\n", code: 2 });
  });

  test("kestrel.toml in the working directory is picked up", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "kestrel.toml"), `port = "not a number"\n`);
    const result = await runKestrel([], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("kestrel.toml: port: expected a whole number");
  });

  test("a port in use: exit 1, one line naming port and address, found before queue_path is touched", async () => {
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const data = join(tempDir(), "data");
    const result = await runKestrel(["--host", "127.0.0.1", "--port", String(blocker.port), "--data", data]);
    blocker.stop(true);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n").at(-1)).toBe(
      `kestrel: port ${blocker.port} on 127.0.0.1 is in use; stop the program holding it or choose another port`,
    );
    expect(result.stderr).not.toContain("loaded");
    expect(existsSync(data)).toBe(false);
  });

  test("an admin port in use: the same, and the memcache port is let go", async () => {
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const dir = tempDir();
    const config = join(dir, "kestrel.toml");
    writeFileSync(config, `admin_port = ${blocker.port}\n`);
    const port = freePort();
    const result = await runKestrel(["--config", config, "--host", "127.0.0.1", "--port", String(port), "--data", join(dir, "data")]);
    blocker.stop(true);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n").at(-1)).toBe(
      `kestrel: admin port ${blocker.port} on 127.0.0.1 is in use; stop the program holding it or choose another admin_port`,
    );
    expect(existsSync(join(dir, "data"))).toBe(false);
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
  });

  test("a queue_path in use by another server: its port is let go", async () => {
    const server = await ServerProcess.start();
    const port = freePort();
    const result = await runKestrel(["--host", "127.0.0.1", "--port", String(port), "--data", server.dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is in use by another kestrel (pid ${server.proc.pid})`);
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    expect(await server.stop()).toBe(0);
  });
});
