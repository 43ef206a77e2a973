/**
 * Faults injected under a real server process (test/helpers/faulty_fs_preload.ts): what clients,
 * /health and the log see while the journal can't be written or fsynced, that the server comes
 * back by itself when the fault clears, and faults at start-up (quarantine, lock) and shutdown.
 * test/recovery/faults.test.ts sweeps every operation in-process; this checks the wiring.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { FAULTS_PRELOAD, MAIN, ServerProcess, freePort } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const adminOf = async (server: ServerProcess) => (await server.waitForLog(/admin HTTP on (http:\/\/[^ ]+)/))[1]!;

describe("injected faults", () => {
  test("an fsync EIO under always: its set waits, /health degraded, sets and gets refused; back by itself; nothing lost", async () => {
    const faultsFile = join(tempDir(), "faults.json");
    const server = await ServerProcess.start({ faultsFile, config: 'sync_journal = "always"\nadmin_port = 0\n' });
    const admin = await adminOf(server);
    const c = await server.client();
    const acked = ["a", "b", "c"];
    for (const data of acked) expect(await c.set("q", data)).toBe("STORED");
    // The retry fsyncs on the event loop (fsync, not fsyncAsync): both fail until cleared, or the
    // upkeep's retry could recover before the checks below.
    await server.setFaults([
      { op: "fsyncAsync", code: "EIO", path: "/q$" },
      { op: "fsync", code: "EIO", path: "/q$" },
    ]);
    const failed = server.output.length;
    // The set whose fsync fails is answered once the retry has written and synced it again.
    await c.send("set q 0 0 8\r\nunsynced\r\n");
    await server.waitForLog(/ERROR queue 'q': fsync of .*\/q failed: EIO/, failed);
    const other = await server.client();
    expect(await other.set("q", "refused")).toMatch(/^SERVER_ERROR fsync of .*\/q failed: EIO/);
    expect(await other.call("get q")).toMatch(/^SERVER_ERROR fsync of .*\/q failed: EIO/);
    expect(await other.get("q/peek")).toBe("a");
    other.close();
    const health = await fetch(`${admin}/health`);
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain("EIO");
    expect((await (await fetch(`${admin}/metrics`)).text())).toContain('kestrel_queue_journal_failing{queue="q"} 1');

    const mark = server.output.length;
    await server.setFaults([]);
    await server.waitForLog(/queue 'q': journal writes work again/, mark);
    expect(await c.readLine()).toBe("STORED");
    acked.push("unsynced");
    expect((await fetch(`${admin}/health`)).status).toBe(200);
    expect(await c.set("q", "d")).toBe("STORED");
    acked.push("d");
    expect(await c.get("q")).toBe(acked.shift()!);
    c.close();
    await server.kill9();
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    expect(await c2.drain("q")).toEqual(acked);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a failed syncfs under always holds back every set it stood for until the retry synced it; nothing acknowledged lost", async () => {
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
    const failedOn = (q: string) => new RegExp(`ERROR queue '${q}': fsync of .*\\/${q} failed: EIO`).test(server.output.slice(mark));
    // The journals the failed syncfs stood for failed, and their sets were answered only once the
    // retry had synced them: STORED all the same. (Under load one write of sets may arrive in two
    // reads, two groups, or fewer than 8 journals and no syncfs: rounds go on until one failed;
    // its log lines may come after the replies.)
    let failed: string[] = [];
    for (let round = 0; failed.length === 0; round++) {
      expect(round).toBeLessThan(200);
      expect(await setAll(`during-${round}`)).toEqual(queues.map(() => "STORED"));
      failed = queues.filter(failedOn);
    }
    for (const q of failed) await server.waitForLog(new RegExp(`queue '${q}': journal writes work again`), mark);
    await server.setFaults([]);
    expect(await setAll("after")).toEqual(queues.map(() => "STORED"));
    c.close();
    await server.kill9();
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    for (const q of queues) expect(await c2.drain(q)).toEqual(acked.get(q)!);
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
    // Answered once the retry has written and synced it again.
    expect(await c.set("q", "during")).toBe("STORED");
    acked.push("during");
    await server.waitForLog(/ERROR queue 'q': fsync of .* EIO/, mark);
    await server.waitForLog(/journal writes work again/, mark);
    expect(await c.set("q", "after")).toBe("STORED");
    acked.push("after");
    c.close();
    expect(await server.stop()).toBe(0);
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    expect(await c2.drain("q")).toEqual(acked);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  /**
   * `a` and `b` stored in `q`, then writes to q's journal fail with ENOSPC and one more set is
   * sent on `c`: its write is the one that fails. A second connection sees the queue refusing.
   */
  async function setInTheWriteThatFails(): Promise<{ server: ServerProcess; c: TestClient }> {
    const server = await ServerProcess.start({ faultsFile: join(tempDir(), "faults.json") });
    const c = await server.client();
    for (const data of ["a", "b"]) expect(await c.set("q", data)).toBe("STORED");
    await server.setFaults([{ op: "writev", code: "ENOSPC", path: "/q$" }]);
    const mark = server.output.length;
    await c.send("set q 0 0 6\r\nkept-1\r\n");
    await server.waitForLog(/ERROR queue 'q': journal write .* ENOSPC/, mark);
    // Sets and takes that come while the journal is failing are refused up front.
    const other = await server.client();
    expect(await other.set("q", "refused")).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    expect(await other.call("get q")).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    other.close();
    return { server, c };
  }

  test("a set in the very write that fails is answered once the retry wrote it: STORED, and kept once, also after kill -9", async () => {
    const { server, c } = await setInTheWriteThatFails();
    const mark = server.output.length;
    await server.setFaults([]);
    await server.waitForLog(/queue 'q': journal writes work again/, mark);
    expect(await c.readLine()).toBe("STORED");
    expect(await c.queueStat("q", "items")).toBe("3");
    c.close();
    await server.kill9();
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    expect(await c2.drain("q")).toEqual(["a", "b", "kept-1"]);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a set in the very write that fails, the server stopped while it still fails: SERVER_ERROR, and not kept", async () => {
    const { server, c } = await setInTheWriteThatFails();
    const reply = c.readLine().catch(() => "connection closed");
    expect(await server.stop()).toBe(0);
    expect(await reply).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC|^connection closed$/);
    const again = await server.restart({ faultsFile: undefined });
    const c2 = await again.client();
    expect(await c2.drain("q")).toEqual(["a", "b"]);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("text protocol: a confirm and a put in the very write that fails are answered once the retry wrote them", async () => {
    const server = await ServerProcess.start({ faultsFile: join(tempDir(), "faults.json"), config: `text_port = ${freePort()}\n` });
    const t = await server.textClient();
    await t.send("put q:\na\nb\n\n");
    expect(await t.readLine()).toBe("+2");
    expect(await t.call("get q")).toBe(":a");
    await server.setFaults([{ op: "writev", code: "ENOSPC", path: "/q$" }]);
    const mark = server.output.length;
    // One write: the confirm of `a` and the put of `c` go to the journal together, and that write fails.
    await t.send("confirm q 1\nput q:\nc\n\n");
    await server.waitForLog(/ERROR queue 'q': journal write .* ENOSPC/, mark);
    const other = await server.textClient();
    await other.send("put q:\nrefused\n\n");
    expect(await other.readLine()).toMatch(/^-journal write to .* failed: ENOSPC/);
    other.close();
    const recovered = server.output.length;
    await server.setFaults([]);
    await server.waitForLog(/queue 'q': journal writes work again/, recovered);
    expect(await t.readLine()).toBe("+1");
    expect(await t.readLine()).toBe("+1");
    t.close();
    await server.kill9();
    const again = await server.restart({ faultsFile: undefined });
    const c = await again.client();
    expect(await c.drain("q")).toEqual(["b", "c"]);
    c.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a fault of many journals at once logs a few lines of each kind and counts the rest, also when they recover", async () => {
    const faultsFile = join(tempDir(), "faults.json");
    const server = await ServerProcess.start({ faultsFile });
    const c = await server.client();
    const queues = Array.from({ length: 30 }, (_, i) => `f${i}`);
    for (const q of queues) expect(await c.set(q, "before")).toBe("STORED");
    await server.setFaults([{ op: "writev", code: "EIO" }]);
    const failedFrom = server.output.length;
    // Each set's write fails; its reply waits for the retry that writes it once the fault clears.
    await c.send(queues.map((q) => `set ${q} 0 0 6\r\nduring\r\n`).join(""));
    const other = await server.client();
    for (const q of queues) {
      for (let round = 0; !(await other.call(`get ${q}`)).startsWith("SERVER_ERROR"); round++) expect(round).toBeLessThan(1000);
    }
    other.close();
    await server.setFaults([]);
    for (let i = 0; i < queues.length; i++) expect(await c.readLine()).toBe("STORED");
    // The upkeep retries once a second: each queue takes sets again once its journal recovered.
    for (const q of queues) {
      for (let round = 0; (await c.set(q, "after")) !== "STORED"; round++) expect(round).toBeLessThan(1000);
    }
    c.close();
    expect(await server.stop()).toBe(0);
    const lines = server.output.slice(failedFrom).split("\n");
    const count = (pattern: RegExp) => lines.filter((line) => pattern.test(line)).length;
    // Ten of each kind as they come, then one line counting the rest (at the latest at the stop).
    expect(count(/ERROR queue 'f\d+': .*sets and gets on it are refused/)).toBe(11);
    expect(count(/and 19 more like it/)).toBe(2);
    expect(count(/queue 'f\d+': journal writes work again/)).toBe(11);
    server.removeData();
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
