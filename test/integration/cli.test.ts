import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runKestrel } from "../helpers/server.ts";
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

  test("kestrel.toml in the working directory is picked up", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "kestrel.toml"), `port = "not a number"\n`);
    const result = await runKestrel([], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("kestrel.toml: port: expected a whole number");
  });

  test("a port already in use fails with exit 1 and one line", async () => {
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const result = await runKestrel(["--host", "127.0.0.1", "--port", String(blocker.port), "--data", tempDir()]);
    blocker.stop(true);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n").at(-1)).toStartWith("kestrel: ");
  });
});
