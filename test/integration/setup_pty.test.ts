/**
 * The first-run setup through a real terminal: a person runs `kestrel` in a directory with no
 * config, answers the questions, and the server starts on what they chose.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TestClient } from "../helpers/client.ts";
import { KEYS, PtySession } from "../helpers/pty.ts";
import { freePort, LogCapture, MAIN } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const KESTREL = [process.execPath, MAIN];

describe("first run on a terminal", () => {
  test("asks, writes kestrel.toml, then serves on the answers", async () => {
    const dir = tempDir();
    const port = freePort();
    const pty = new PtySession(KESTREL, dir);
    try {
      await pty.answer("Listen for memcache clients on", KEYS.enter);
      await pty.answer("Port", `${port}${KEYS.enter}`);
      await pty.answer("Directory for the queues", `queues${KEYS.enter}`);
      await pty.answer("When are journal writes forced", `${KEYS.down}${KEYS.enter}`);
      await pty.answer("Memory for items", KEYS.enter);
      await pty.answer("Admin HTTP endpoint", KEYS.enter);
      await pty.answer(`Write kestrel.toml?`, KEYS.enter);
      await pty.waitFor(`listening on 127.0.0.1:${port}`);
      expect(Bun.file(join(dir, "kestrel.toml")).size).toBeGreaterThan(0);
      expect(await Bun.file(join(dir, "kestrel.toml")).text()).toContain('sync_journal = "always"');
      const client = await TestClient.connect(port);
      expect(await client.set("first", "run")).toBe("STORED");
      expect(await client.get("first")).toBe("run");
      await client.send("shutdown\r\n");
      expect(await pty.exited()).toBe(0);
      expect(readdirSync(join(dir, "queues"))).toContain("first");
    } finally {
      pty.kill();
    }
  });

  test("Ctrl-C in the middle writes nothing and exits 130", async () => {
    const dir = tempDir();
    const pty = new PtySession(KESTREL, dir);
    try {
      await pty.answer("Listen for memcache clients on", KEYS.enter);
      await pty.answer("Port", KEYS.ctrlC);
      expect(await pty.exited()).toBe(130);
      expect(pty.screen).toContain("Setup cancelled; nothing was written.");
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      pty.kill();
    }
  });
});

test("without a terminal it never asks: embedded defaults (this machine only), and the log says where the data goes", async () => {
  const dir = tempDir();
  const proc = Bun.spawn([...KESTREL, "--port", "0"], { cwd: dir, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const log = new LogCapture(proc.stderr);
  await log.waitFor(/listening on 127\.0\.0\.1:\d+/);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  expect(log.text).toContain("no config file and no terminal to ask on: using the embedded defaults");
  expect(log.text).toContain(`queues in ${join(dir, "kestrel-data")}`);
  expect(existsSync(join(dir, "kestrel.toml"))).toBe(false);
});
