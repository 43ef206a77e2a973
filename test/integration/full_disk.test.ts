/**
 * A real full disk (a small tmpfs; skipped where mounting is not allowed): while the journal can't
 * be written, sets and gets are refused with SERVER_ERROR and /health says so; the server
 * recovers by itself once space is freed, and no acknowledged item is lost nor a consumed one
 * handed out again, across clean stops and kill -9.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { Tmpfs, canMountTmpfs } from "../helpers/tmpfs.ts";

const item = (i: number) => `${String(i).padStart(6, "0")}:${"x".repeat(1000)}`;

/** Bigger than any room left in the journal's last page of a full tmpfs. */
const big = "b".repeat(64 * 1024);
const takesAndABigSet = `${"get q\r\n".repeat(10)}set q 0 0 ${big.length}\r\n${big}\r\n`;

let disk: Tmpfs | null = null;
let server: ServerProcess | null = null;

afterEach(async () => {
  await server?.kill9().catch(() => {});
  server = null;
  disk?.unmount();
  disk = null;
});

/**
 * 30 items queued on a 1 MiB tmpfs, the disk filled, then ten takes and a big set in one write:
 * the set's record doesn't fit, so the write of the batch (the ten REMOVEs with it) fails.
 */
async function takeWhileTheDiskFills(): Promise<{ c: TestClient; queued: string[]; running: ServerProcess; tmpfs: Tmpfs }> {
  const tmpfs = (disk = Tmpfs.mount("1m"));
  const running = (server = await ServerProcess.start({ dataDir: tmpfs.dataDir }));
  const c = await running.client();
  const queued = Array.from({ length: 30 }, (_, i) => item(i));
  for (const data of queued) expect(await c.set("q", data)).toBe("STORED");
  tmpfs.fillLeaving(0);
  const mark = running.output.length;
  await c.send(takesAndABigSet);
  await running.waitForLog(/ERROR queue 'q': journal write .* ENOSPC/, mark);
  return { c, queued, running, tmpfs };
}

/** Sets items from `next` on until one is not STORED; returns the acknowledged ones and that reply. */
async function setUntilRefused(c: TestClient, queue: string, next: number): Promise<{ acked: string[]; reply: string }> {
  const acked: string[] = [];
  for (let i = next; ; i++) {
    const reply = await c.set(queue, item(i));
    if (reply !== "STORED") return { acked, reply };
    acked.push(item(i));
  }
}

describe.skipIf(!canMountTmpfs)("a full disk", () => {
  test("refuses sets and gets with SERVER_ERROR, says so in /health and the log, recovers by itself, loses nothing", async () => {
    disk = Tmpfs.mount("1m");
    server = await ServerProcess.start({ dataDir: disk.dataDir, config: "admin_port = 0\n" });
    const admin = (await server.waitForLog(/admin HTTP on (http:\/\/[^ ]+)/))[1]!;
    const c = await server.client();
    const stored: string[] = [];
    for (let i = 0; i < 20; i++) {
      expect(await c.set("full", item(i))).toBe("STORED");
      stored.push(item(i));
    }
    expect(await c.get("full")).toBe(stored.shift()!);

    disk.fillLeaving(0);
    const { acked, reply } = await setUntilRefused(c, "full", 20);
    stored.push(...acked);
    expect(reply).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    await server.waitForLog(/ERROR queue 'full': journal write .* ENOSPC/);
    // Refused while the journal can't record them: a set, a take, a reliable read.
    expect(await c.set("full", "refused")).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    expect(await c.call("get full")).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    expect(await c.call("get full/open")).toMatch(/^SERVER_ERROR /);
    // A peek changes nothing and still works.
    expect(await c.get("full/peek")).toBe(stored[0]!);
    const health = await fetch(`${admin}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; failing: Array<{ queue: string; error: string }> };
    expect(body.status).toBe("degraded");
    expect(body.failing.map((f) => f.queue)).toEqual(["full"]);
    expect(body.failing[0]!.error).toContain("ENOSPC");

    const mark = server.output.length;
    disk.free();
    await server.waitForLog(/queue 'full': journal writes work again/, mark);
    expect((await fetch(`${admin}/health`)).status).toBe(200);
    expect(await c.set("full", "after")).toBe("STORED");
    stored.push("after");
    expect(await c.get("full")).toBe(stored.shift()!);
    c.close();
    await server.kill9();

    server = await server.restart();
    const c2 = await server.client();
    const left = await c2.drain("full");
    // Every acknowledged item is back, in order; the set that failed may be there too (its reply
    // said SERVER_ERROR: the outcome was unknown), the refused ones are not.
    expect(left.filter((v) => stored.includes(v))).toEqual(stored);
    expect(left.length - stored.length).toBeLessThanOrEqual(1);
    expect(left).not.toContain("refused");
    c2.close();
  });

  test("items taken in the write that failed go out only once their removal is on disk; kill -9 never brings back one handed out", async () => {
    const { c, queued, running, tmpfs } = await takeWhileTheDiskFills();
    // Nothing arrives while the disk is full; the next request (a peek) queues behind them.
    await c.send("get q/peek\r\n");
    const recovered = running.output.length;
    tmpfs.free();
    await running.waitForLog(/queue 'q': journal writes work again/, recovered);
    const taken: string[] = [];
    for (let i = 0; i < 10; i++) taken.push(Buffer.from((await c.readValue())!.data).toString());
    expect(taken).toEqual(queued.slice(0, 10));
    expect(await c.readLine()).toMatch(/^SERVER_ERROR journal write to .* ENOSPC/);
    expect(Buffer.from((await c.readValue())!.data).toString()).toBe(queued[10]!);
    c.close();
    await running.kill9();

    server = await running.restart();
    const c2 = await server.client();
    const left = await c2.drain("q");
    // The ten handed out are gone for good; the failed set may or may not have been kept.
    expect(left.filter((v) => v !== big)).toEqual(queued.slice(10));
    c2.close();
  });

  test("a kill -9 while the disk is still full brings back the items whose takes never answered", async () => {
    const { c, queued, running, tmpfs } = await takeWhileTheDiskFills();
    await running.kill9();
    // Takes the server read in an earlier turn than the set (TCP may split the write) were
    // answered before the disk filled: those items are gone for good. None after.
    const answered: string[] = [];
    for (let value = await c.readValue().catch(() => null); value !== null; value = await c.readValue().catch(() => null)) {
      answered.push(Buffer.from(value.data).toString());
    }
    expect(answered).toEqual(queued.slice(0, answered.length));
    tmpfs.free();

    server = await running.restart();
    const c2 = await server.client();
    expect((await c2.drain("q")).filter((v) => v !== big)).toEqual(queued.slice(answered.length));
    c2.close();
  });

  test("a rotation whose new segment finds the disk full changes nothing; later rotations lose nothing", async () => {
    disk = Tmpfs.mount("8m");
    server = await ServerProcess.start({ dataDir: disk.dataDir, config: 'max_journal_size = "64KiB"\n' });
    const c = await server.client();
    const acked: string[] = [];
    // Fill the active segment to just under 64 KiB, then leave one page free: the set that
    // crosses 64 KiB takes that page, and the new segment's header finds no room.
    let i = 0;
    while (Bun.file(`${disk.dataDir}/rot`).size < 64 * 1024 - 1040) {
      expect(await c.set("rot", item(i))).toBe("STORED");
      acked.push(item(i++));
    }
    disk.fillLeaving(4096);
    const mark = server.output.length;
    expect(await c.set("rot", item(i))).toBe("STORED");
    acked.push(item(i++));
    await server.waitForLog(/could not rotate the journal/, mark);
    const { acked: more } = await setUntilRefused(c, "rot", i);
    acked.push(...more);
    i += more.length + 1;
    const recovered = server.output.length;
    disk.free();
    await server.waitForLog(/queue 'rot': journal writes work again/, recovered);
    // Two more segments' worth: the rotations that follow must not overwrite a sealed segment.
    for (let n = 0; n < 150; n++, i++) {
      expect(await c.set("rot", item(i))).toBe("STORED");
      acked.push(item(i));
    }
    c.close();
    expect(await server.stop()).toBe(0);
    server = await server.restart();
    const c2 = await server.client();
    const left = await c2.drain("rot");
    expect(left.filter((v) => acked.includes(v))).toEqual(acked);
    expect(left.length - acked.length).toBeLessThanOrEqual(1);
    c2.close();
  });

  for (const leftKiB of [72, 128, 200, 344]) {
    test(`a disk that fills during journal rotation (${leftKiB} KiB left) keeps every acknowledged item`, async () => {
      disk = Tmpfs.mount("8m");
      server = await ServerProcess.start({ dataDir: disk.dataDir, config: 'max_journal_size = "64KiB"\n' });
      const c = await server.client();
      disk.fillLeaving(leftKiB * 1024);
      const { acked, reply } = await setUntilRefused(c, "rot", 0);
      expect(acked.length).toBeGreaterThan(30);
      expect(reply).toMatch(/^SERVER_ERROR /);
      // Still full: refused, but with a clear error, not an internal one.
      expect(await c.set("rot", "refused")).toMatch(/^SERVER_ERROR journal/);
      const mark = server.output.length;
      disk.free();
      await server.waitForLog(/queue 'rot': journal writes work again/, mark);
      expect(await c.set("rot", "after")).toBe("STORED");
      acked.push("after");
      c.close();
      expect(await server.stop()).toBe(0);

      server = await server.restart();
      const c2 = await server.client();
      const left = await c2.drain("rot");
      expect(left.filter((v) => acked.includes(v))).toEqual(acked);
      expect(left.length - acked.length).toBeLessThanOrEqual(1);
      expect(server.output).not.toMatch(/damaged|internal error/);
      c2.close();
    });
  }
});
