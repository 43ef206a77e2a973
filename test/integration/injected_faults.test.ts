/**
 * Faults injected under a real server process (test/helpers/faulty_fs_preload.ts): what clients,
 * /health and the log see while the journal can't be written or fsynced, that the server comes
 * back by itself when the fault clears, and faults at start-up (quarantine, lock) and shutdown.
 * test/recovery/faults.test.ts sweeps every operation in-process; this checks the wiring.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FAULTS_PRELOAD, MAIN, ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const adminOf = async (server: ServerProcess) => (await server.waitForLog(/admin HTTP on (http:\/\/[^ ]+)/))[1]!;

describe("injected faults", () => {
  test("an fsync EIO under always: SERVER_ERROR, /health degraded, gets refused; back by itself; nothing lost", async () => {
    const faultsFile = join(tempDir(), "faults.json");
    const server = await ServerProcess.start({ faultsFile, config: 'sync_journal = "always"\nadmin_port = 0\n' });
    const admin = await adminOf(server);
    const c = await server.client();
    const acked = ["a", "b", "c"];
    for (const data of acked) expect(await c.set("q", data)).toBe("STORED");
    await server.setFaults([{ op: "fsyncAsync", code: "EIO", path: "/q$" }]);
    expect(await c.set("q", "unsynced")).toMatch(/^SERVER_ERROR fsync of .*\/q failed: EIO/);
    expect(await c.call("get q")).toMatch(/^SERVER_ERROR fsync of .*\/q failed: EIO/);
    expect(await c.get("q/peek")).toBe("a");
    const health = await fetch(`${admin}/health`);
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain("EIO");
    expect((await (await fetch(`${admin}/metrics`)).text())).toContain('kestrel_queue_journal_failing{queue="q"} 1');

    const mark = server.output.length;
    await server.setFaults([]);
    await server.waitForLog(/queue 'q': journal writes work again/, mark);
    expect((await fetch(`${admin}/health`)).status).toBe(200);
    expect(await c.set("q", "d")).toBe("STORED");
    acked.push("d");
    expect(await c.get("q")).toBe(acked.shift()!);
    c.close();
    await server.kill9();
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    // The set whose fsync failed was written again by the retry: it may be there (its reply said SERVER_ERROR).
    expect((await c2.drain("q")).filter((v) => v !== "unsynced")).toEqual(acked);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a failed syncfs under always fails every set it stood for; back by itself; nothing acknowledged lost", async () => {
    const faultsFile = join(tempDir(), "faults.json");
    const server = await ServerProcess.start({ faultsFile, config: 'sync_journal = "always"\n' });
    const c = await server.client();
    const queues = Array.from({ length: 10 }, (_, i) => `g${i}`);
    const acked = new Map(queues.map((q) => [q, [] as string[]]));
    /** One set to each queue, pipelined in one write: written in one turn, their fsyncs asked for together. */
    const setAll = async (data: string): Promise<string[]> => {
      await c.send(queues.map((q) => `set ${q} 0 0 ${data.length}\r\n${data}\r\n`).join(""));
      const replies: string[] = [];
      for (const q of queues) {
        const reply = await c.readLine();
        replies.push(reply);
        if (reply === "STORED") acked.get(q)!.push(data);
      }
      return replies;
    };
    // The syncfs worker starts on the first group and is used once it answered.
    for (let round = 0; Number((await c.stats()).get("journal_syncfs")) === 0; round++) {
      expect(round).toBeLessThan(500);
      expect(await setAll(`warm-${round}`)).toEqual(queues.map(() => "STORED"));
    }
    await server.setFaults([{ op: "syncFileSystemAsync", code: "EIO", times: 1 }]);
    const mark = server.output.length;
    const failed = await setAll("during");
    expect(failed).toEqual(queues.map(() => expect.stringMatching(/^SERVER_ERROR fsync of .*\/g\d failed: EIO/)));
    for (const q of queues) await server.waitForLog(new RegExp(`queue '${q}': journal writes work again`), mark);
    await server.setFaults([]);
    expect(await setAll("after")).toEqual(queues.map(() => "STORED"));
    c.close();
    await server.kill9();
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    // A set whose sync failed was written again by the retry: it may be there (its reply said SERVER_ERROR).
    for (const q of queues) expect((await c2.drain(q)).filter((v) => v !== "during")).toEqual(acked.get(q)!);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a reload from never to always, then one failed fsync: everything STORED before is kept", async () => {
    const dir = tempDir();
    const configPath = join(dir, "kestrel.toml");
    const server = await ServerProcess.start({ config: 'sync_journal = "never"\n', configPath, faultsFile: join(dir, "faults.json") });
    const c = await server.client();
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      expect(await c.set("q", `before-${i}`)).toBe("STORED");
      acked.push(`before-${i}`);
    }
    writeFileSync(configPath, 'sync_journal = "always"\n');
    expect(await c.call("reload")).toBe("Reloaded config.");
    await server.setFaults([{ op: "fsyncAsync", code: "EIO", times: 1 }]);
    const mark = server.output.length;
    expect(await c.set("q", "during")).toMatch(/^SERVER_ERROR fsync of .* EIO/);
    await server.waitForLog(/journal writes work again/, mark);
    expect(await c.set("q", "after")).toBe("STORED");
    acked.push("after");
    c.close();
    expect(await server.stop()).toBe(0);
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    expect((await c2.drain("q")).filter((v) => v !== "during")).toEqual(acked);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("quarantine can't be written at start: that queue waits (with the reason), the others serve; loaded once it can", async () => {
    const faultsFile = join(tempDir(), "faults.json");
    const server = await ServerProcess.start();
    const c = await server.client();
    for (const data of ["1", "2", "3"]) expect(await c.set("damaged", data)).toBe("STORED");
    expect(await c.set("fine", "ok")).toBe("STORED");
    c.close();
    expect(await server.stop()).toBe(0);
    appendFileSync(join(server.dataDir, "damaged"), "torn tail bytes");
    writeFileSync(faultsFile, JSON.stringify([{ op: "writev", code: "ENOSPC", path: "/\\.kestrel/quarantine/" }]));

    const again = await server.restart({ faultsFile, config: "admin_port = 0\n" });
    const admin = await adminOf(again);
    expect(again.output).toMatch(/journal for queue 'damaged' could not be opened: ENOSPC.*not served \(tried again each second\)/);
    const c2 = await again.client();
    expect(await c2.call("get damaged")).toMatch(/^SERVER_ERROR journal for queue 'damaged' could not be opened: ENOSPC/);
    expect(await c2.get("fine")).toBe("ok");
    const health = await fetch(`${admin}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { failing: Array<{ queue: string }> }).failing.map((f) => f.queue)).toEqual(["damaged"]);
    const mark = again.output.length;
    await again.setFaults([]);
    await again.waitForLog(/queue 'damaged': loaded now that its journal can be opened/, mark);
    expect((await fetch(`${admin}/health`)).status).toBe(200);
    expect(await c2.drain("damaged")).toEqual(["1", "2", "3"]);
    expect(readdirSync(join(again.dataDir, ".kestrel", "quarantine")).length).toBe(1);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("the lock can't be taken: one clear line and exit 1; it can't be removed at stop: a warning and exit 0", async () => {
    const dataDir = tempDir();
    const faultsFile = join(tempDir(), "faults.json");
    writeFileSync(faultsFile, JSON.stringify([{ op: "open", code: "EACCES", path: "/\\.kestrel/lock$" }]));
    const proc = Bun.spawn([process.execPath, "--preload", FAULTS_PRELOAD, MAIN, "--port", "0", "--host", "127.0.0.1", "--data", dataDir], {
      env: { ...process.env, KESTREL_FAULTS_FILE: faultsFile },
      stderr: "pipe",
      stdout: "ignore",
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/EACCES: injected fault, open '.*\/\.kestrel\/lock'/);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace

    writeFileSync(faultsFile, JSON.stringify([{ op: "remove", code: "EIO", path: "/\\.kestrel/lock$" }]));
    const server = await ServerProcess.start({ dataDir, faultsFile });
    expect(await server.stop()).toBe(0);
    const lines = server.output.trimEnd().split("\n");
    expect(lines.filter((line) => !/^\S+ INFO  /.test(line) && line !== "test faults: 1 set")).toEqual([
      expect.stringMatching(/^\S+ WARN  could not remove the lock .*EIO: injected fault.*; the next start takes it over$/),
    ]);
    const again = await server.restart({ faultsFile: undefined });
    expect(again.output).toContain("taking the directory over");
    expect(await again.stop()).toBe(0);
  });
});
