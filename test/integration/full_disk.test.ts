/**
 * A real full disk (a small tmpfs; skipped where mounting is not allowed): while the journal can't
 * be written, sets and gets are refused with SERVER_ERROR and /health says so; those in the write
 * that failed are answered once it is on disk; the server recovers by itself once space is freed,
 * and no acknowledged item is lost, no refused one kept, nor a consumed one handed out again,
 * across clean stops and kill -9.
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

/**
 * Sets items from `next` on until the queue's journal fails (the log says so) or a set is not
 * STORED. Returns the acknowledged ones, the item set last and its reply: STORED once the
 * journal can be written again if that set was in the write that failed, SERVER_ERROR if it was
 * refused (the journal had failed without it).
 */
async function setUntilTheJournalFails(
  running: ServerProcess,
  c: TestClient,
  queue: string,
  next: number,
): Promise<{ acked: string[]; last: string; reply: Promise<string> }> {
  const pattern = new RegExp(`ERROR queue '${queue}': .*; sets and gets on it are refused`);
  // Settles either way, so it is never left rejected once the loop has stopped waiting on it.
  const failed = running.waitForLog(pattern, running.output.length).then(
    () => null,
    () => null,
  );
  const acked: string[] = [];
  for (let i = next; ; i++) {
    const reply = c.set(queue, item(i));
    const first = await Promise.race([reply, failed]);
    if (first !== "STORED") return { acked, last: item(i), reply };
    acked.push(item(i));
  }
}

/** The reply to a set `setUntilTheJournalFails` left waiting, once the journal works again: `last` goes to `acked` if it was STORED. */
async function settleLast(acked: string[], last: string, reply: Promise<string>): Promise<void> {
  const answer = await reply;
  if (answer === "STORED") acked.push(last);
  else expect(answer).toMatch(/^SERVER_ERROR journal/);
}

describe.skipIf(!canMountTmpfs)("a full disk", () => {
  test("refuses sets and gets with SERVER_ERROR, says so in /health and the log, recovers by itself, loses nothing, keeps nothing refused", async () => {
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
    const { acked, last, reply } = await setUntilTheJournalFails(server, c, "full", 20);
    stored.push(...acked);
    await server.waitForLog(/ERROR queue 'full': journal write .* ENOSPC/);
    // Refused while the journal can't record them: a set, a take, a reliable read (on another
    // connection: this one's replies wait behind the set in the write that failed).
    const other = await server.client();
    expect(await other.set("full", "refused")).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    expect(await other.call("get full")).toMatch(/^SERVER_ERROR journal write to .* failed: ENOSPC/);
    expect(await other.call("get full/open")).toMatch(/^SERVER_ERROR /);
    // A peek changes nothing and still works.
    expect(await other.get("full/peek")).toBe(stored[0]!);
    other.close();
    const health = await fetch(`${admin}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; failing: Array<{ queue: string; error: string }> };
    expect(body.status).toBe("degraded");
    expect(body.failing.map((f) => f.queue)).toEqual(["full"]);
    expect(body.failing[0]!.error).toContain("ENOSPC");

    const mark = server.output.length;
    disk.free();
    await server.waitForLog(/queue 'full': journal writes work again/, mark);
    // The set in the write that failed: answered now that the retry wrote it.
    expect(await reply).toBe("STORED");
    stored.push(last);
    expect((await fetch(`${admin}/health`)).status).toBe(200);
    expect(await c.set("full", "after")).toBe("STORED");
    stored.push("after");
    expect(await c.get("full")).toBe(stored.shift()!);
    c.close();
    await server.kill9();

    server = await server.restart();
    const c2 = await server.client();
    // Every acknowledged item is back, in order, and nothing else (the refused set is not).
    expect(await c2.drain("full")).toEqual(stored);
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
    // The set in that write too: stored once the retry wrote it.
    expect(await c.readLine()).toBe("STORED");
    expect(Buffer.from((await c.readValue())!.data).toString()).toBe(queued[10]!);
    c.close();
    await running.kill9();

    server = await running.restart();
    const c2 = await server.client();
    // The ten handed out are gone for good; the set is kept.
    expect(await c2.drain("q")).toEqual([...queued.slice(10), big]);
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
    // The set in the write that failed was never answered, nor kept.
    expect(await c2.drain("q")).toEqual(queued.slice(answered.length));
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
    const { acked: more, last, reply } = await setUntilTheJournalFails(server, c, "rot", i);
    acked.push(...more);
    i += more.length + 1;
    const recovered = server.output.length;
    disk.free();
    await server.waitForLog(/queue 'rot': journal writes work again/, recovered);
    await settleLast(acked, last, reply);
    // Two more segments' worth: the rotations that follow must not overwrite a sealed segment.
    for (let n = 0; n < 150; n++, i++) {
      expect(await c.set("rot", item(i))).toBe("STORED");
      acked.push(item(i));
    }
    c.close();
    expect(await server.stop()).toBe(0);
    server = await server.restart();
    const c2 = await server.client();
    expect(await c2.drain("rot")).toEqual(acked);
    c2.close();
  });

  for (const leftKiB of [72, 128, 200, 344]) {
    test(`a disk that fills during journal rotation (${leftKiB} KiB left) keeps every acknowledged item`, async () => {
      disk = Tmpfs.mount("8m");
      server = await ServerProcess.start({ dataDir: disk.dataDir, config: 'max_journal_size = "64KiB"\n' });
      const c = await server.client();
      disk.fillLeaving(leftKiB * 1024);
      const { acked, last, reply } = await setUntilTheJournalFails(server, c, "rot", 0);
      expect(acked.length).toBeGreaterThan(30);
      // Still full: refused, but with a clear error, not an internal one.
      const other = await server.client();
      expect(await other.set("rot", "refused")).toMatch(/^SERVER_ERROR journal/);
      other.close();
      const mark = server.output.length;
      disk.free();
      await server.waitForLog(/queue 'rot': journal writes work again/, mark);
      await settleLast(acked, last, reply);
      expect(await c.set("rot", "after")).toBe("STORED");
      acked.push("after");
      c.close();
      expect(await server.stop()).toBe(0);

      server = await server.restart();
      const c2 = await server.client();
      expect(await c2.drain("rot")).toEqual(acked);
      expect(server.output).not.toMatch(/damaged|internal error/);
      c2.close();
    });
  }
});
