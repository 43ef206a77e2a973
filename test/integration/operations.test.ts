import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** A tiny file system that can really fill up (needs root, as CI has). */
function mountTmpfs(dir: string, size: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]).status === 0;
}

const canMount = (() => {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-mount-probe-"));
  const ok = mountTmpfs(dir, "64k");
  if (ok) spawnSync("umount", [dir]);
  rmSync(dir, { recursive: true, force: true });
  return ok;
})();

describe("a full disk", () => {
  test.skipIf(!canMount)("refuses new items with a clear error, keeps serving, loses nothing and recovers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kestrel-full-"));
    expect(mountTmpfs(dir, "512k")).toBe(true);
    let server: ServerProcess | null = null;
    try {
      server = await ServerProcess.start({ dataDir: dir });
      const c = await server.client();
      const item = "x".repeat(1000);
      const stored: string[] = [];
      for (let i = 0; i < 20; i++) {
        expect(await c.set("full", `${i}:${item}`)).toBe("STORED");
        stored.push(`${i}:${item}`);
      }
      // Fill what is left of the disk.
      const filler = join(dir, "filler.bin");
      try {
        writeFileSync(filler, new Uint8Array(1024 * 1024));
      } catch {
        // ENOSPC: the filler took what it could.
      }
      let reply = await c.set("full", `20:${item}`);
      for (let i = 21; reply === "STORED"; i++) {
        stored.push(`${i - 1}:${item}`);
        reply = await c.set("full", `${i}:${item}`);
      }
      expect(reply).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
      await server.waitForLog(/ERROR queue 'full': journal write .* ENOSPC/);
      expect(await c.set("full", "refused")).toBe("NOT_STORED");
      // Reads go on from memory while the disk is full.
      expect(await c.get("full")).toBe(stored.shift()!);
      expect(await c.get("full")).toBe(stored.shift()!);

      const mark = server.output.length;
      unlinkSync(filler);
      await server.waitForLog(/queue 'full': journal writes work again/, mark);
      expect(await c.set("full", "after")).toBe("STORED");
      stored.push("after");
      c.close();
      await server.kill9();

      server = await server.restart();
      const c2 = await server.client();
      const left = await c2.drain("full");
      // Every acknowledged item is back, in order; the one whose write failed may come back too.
      expect(left.filter((v) => stored.includes(v))).toEqual(stored);
      expect(left.length - stored.length).toBeLessThanOrEqual(1);
      c2.close();
      await server.stop();
    } finally {
      if (server !== null) await server.kill9().catch(() => {});
      spawnSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("clients of a server that went away see a closed connection, not a hang", async () => {
  const server = await ServerProcess.start();
  const c = await TestClient.connect(server.port);
  await server.kill9();
  await c.closed;
  server.removeData();
});
