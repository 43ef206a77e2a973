/**
 * Journal files deleted, replaced or linked under (or before) a running server: nothing
 * acknowledged is lost, nothing consumed comes back, and every such case is logged. Queues whose
 * files are in an impossible state at start are not served, with the reason, until it is fixed.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

async function fill(c: TestClient, queue: string, count: number, prefix = queue): Promise<string[]> {
  const acked: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = `${prefix}-${i}:${"z".repeat(200)}`;
    expect(await c.set(queue, data)).toBe("STORED");
    acked.push(data);
  }
  return acked;
}

describe("files changed under a running server", () => {
  test("the whole data directory deleted: the journals are rebuilt from memory and the lock put back", async () => {
    const server = await ServerProcess.start({ config: 'max_journal_size = "4KiB"\n' });
    const c = await server.client();
    const busy = await fill(c, "busy", 60);
    const idle = await fill(c, "idle", 10);
    for (let i = 0; i < 5; i++) expect(await c.get("busy")).toBe(busy.shift()!);

    const mark = server.output.length;
    rmSync(server.dataDir, { recursive: true, force: true });
    // The next write notices its file is gone: that set is answered once the journal is rebuilt
    // from the queue, with its item.
    expect(await c.set("busy", "while-gone")).toBe("STORED");
    busy.push("while-gone");
    await server.waitForLog(/ERROR queue 'busy': journal file .* was deleted/, mark);
    await server.waitForLog(/queue 'busy': journal rebuilt/, mark);
    await server.waitForLog(/queue 'idle': journal rebuilt/, mark);
    await server.waitForLog(/lock .* was removed under the running server/, mark);
    expect(existsSync(join(server.dataDir, ".kestrel", "lock"))).toBe(true);
    busy.push(...(await fill(c, "busy", 20, "later")));
    expect(await c.get("busy")).toBe(busy.shift()!);
    c.close();
    await server.kill9();

    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.drain("busy")).toEqual(busy);
    expect(await c2.drain("idle")).toEqual(idle);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a sealed segment replaced by a directory, and the active one deleted: noticed and rebuilt", async () => {
    const server = await ServerProcess.start({ config: 'max_journal_size = "4KiB"\n' });
    const c = await server.client();
    const items = await fill(c, "q", 60);
    for (let i = 0; i < 10; i++) expect(await c.get("q")).toBe(items.shift()!);
    const sealed = readdirSync(server.dataDir).filter((name) => /^q\.\d+$/.test(name)).sort();
    expect(sealed.length).toBeGreaterThan(1);
    const mark = server.output.length;
    rmSync(join(server.dataDir, sealed.at(-1)!));
    mkdirSync(join(server.dataDir, sealed.at(-1)!));
    await server.waitForLog(/queue 'q': .* was replaced; rebuilding the journal from the queue/, mark);
    // The directory is in the way of the rebuild until it is removed.
    await server.waitForLog(/is a directory; remove it so the journal can be rebuilt/, mark);
    rmSync(join(server.dataDir, sealed.at(-1)!), { recursive: true });
    await server.waitForLog(/queue 'q': journal rebuilt/, mark);

    const mark2 = server.output.length;
    rmSync(join(server.dataDir, "q"));
    await server.waitForLog(/queue 'q': .* was deleted or replaced; rebuilding/, mark2);
    await server.waitForLog(/queue 'q': journal rebuilt/, mark2);
    c.close();
    await server.kill9();
    const again = await server.restart();
    const c2 = await again.client();
    expect(await c2.drain("q")).toEqual(items);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });
});

test("the active segment cut short under the server: noticed and rebuilt, nothing lost", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  const items = await fill(c, "q", 100);
  const path = join(server.dataDir, "q");
  const mark = server.output.length;
  truncateSync(path, Math.floor(statSync(path).size / 2));
  await server.waitForLog(/queue 'q': .*q was cut from \d+ to \d+ bytes; rebuilding the journal from the queue/, mark);
  await server.waitForLog(/queue 'q': journal rebuilt/, mark);
  items.push(...(await fill(c, "q", 1, "after")));
  c.close();
  expect(await server.stop()).toBe(0);
  const again = await server.restart();
  expect(again.output).not.toContain("damaged");
  const c2 = await again.client();
  expect(await c2.drain("q")).toEqual(items);
  c2.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
});

test("journal files deleted, then a clean stop before any upkeep: the stop rebuilds them first", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  const items = await fill(c, "q", 50);
  c.close();
  rmSync(join(server.dataDir, "q"));
  expect(await server.stop()).toBe(0);
  const again = await server.restart();
  const c2 = await again.client();
  expect(await c2.drain("q")).toEqual(items);
  c2.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
});

describe("files in an impossible state at start", () => {
  test("a directory where a journal segment belongs: that queue is not served until it is moved away; others are", async () => {
    const server = await ServerProcess.start({ config: 'max_journal_size = "4KiB"\n' });
    const c = await server.client();
    const items = await fill(c, "q", 60);
    const other = await fill(c, "other", 3);
    c.close();
    expect(await server.stop()).toBe(0);
    const sealed = readdirSync(server.dataDir).filter((name) => /^q\.\d+$/.test(name)).sort()[0]!;
    renameSync(join(server.dataDir, sealed), join(server.dataDir, "saved"));
    mkdirSync(join(server.dataDir, sealed));

    const again = await server.restart();
    expect(again.output).toMatch(new RegExp(`${sealed} is a directory, where a journal file belongs; the queue is not served`));
    const c2 = await again.client();
    expect(await c2.call("get q")).toMatch(/^SERVER_ERROR .* is a directory/);
    expect(await c2.set("q", "x")).toMatch(/^SERVER_ERROR .* is a directory/);
    expect(await c2.drain("other")).toEqual(other);
    const mark = again.output.length;
    rmSync(join(again.dataDir, sealed), { recursive: true });
    renameSync(join(again.dataDir, "saved"), join(again.dataDir, sealed));
    await again.waitForLog(/queue 'q': loaded now that its journal can be opened/, mark);
    expect(await c2.drain("q")).toEqual(items);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("two queues sharing a file (a hard link): the second is not served, so no item is handed out twice", async () => {
    const server = await ServerProcess.start();
    const c = await server.client();
    const items = await fill(c, "a", 5);
    c.close();
    expect(await server.stop()).toBe(0);
    linkSync(join(server.dataDir, "a"), join(server.dataDir, "b"));
    const again = await server.restart();
    expect(again.output).toMatch(/b is the same file as .*a \(a hard link\)/);
    const c2 = await again.client();
    expect(await c2.call("get b")).toMatch(/^SERVER_ERROR .*hard link/);
    expect(await c2.drain("a")).toEqual(items);
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("a queue called quarantine, and the quarantine folder of the older layout, live side by side", async () => {
    const server = await ServerProcess.start();
    const dir = server.dataDir;
    const c = await server.client();
    expect(await c.set("quarantine", "mine")).toBe("STORED");
    expect(await c.set("jobs", "job")).toBe("STORED");
    c.close();
    expect(await server.stop()).toBe(0);
    // Damage the other queue's journal: recovery must quarantine it without tripping over the queue.
    appendFileSync(join(dir, "jobs"), "torn tail");
    const again = await server.restart();
    expect(again.output).toMatch(/queue 'jobs': journal damaged/);
    expect(readdirSync(join(dir, ".kestrel", "quarantine")).length).toBe(1);
    const c2 = await again.client();
    expect(await c2.get("quarantine")).toBe("mine");
    expect(await c2.get("jobs")).toBe("job");
    c2.close();
    expect(await again.stop()).toBe(0);
    again.removeData();
  });

  test("an older layout's quarantine/ and .lock are moved into .kestrel/", async () => {
    const server = await ServerProcess.start();
    const dir = server.dataDir;
    expect(await server.stop()).toBe(0);
    mkdirSync(join(dir, "quarantine"));
    writeFileSync(join(dir, "quarantine", "jobs.20260101T000000Z.0-5.bad"), "bad");
    writeFileSync(join(dir, ".lock"), JSON.stringify({ pid: 999_999_999, cmdline: "gone" }));
    const again = await server.restart();
    expect(again.output).toContain("moved 1 quarantined file(s)");
    expect(existsSync(join(dir, "quarantine"))).toBe(false);
    expect(existsSync(join(dir, ".lock"))).toBe(false);
    expect(readdirSync(join(dir, ".kestrel", "quarantine"))).toEqual(["jobs.20260101T000000Z.0-5.bad"]);
    expect(await again.stop()).toBe(0);
    again.removeData();
  });
});
