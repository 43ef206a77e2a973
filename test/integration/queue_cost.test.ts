/**
 * Queues are cheap: an idle queue holds no open file and a few KB of memory, a `get` of a new
 * name leaves nothing on disk (a fanout child excepted: it must be loaded again to keep
 * receiving its parent's items), and many queues load at start without a file each held open.
 */
import { expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { residentMiB } from "../helpers/memory.ts";
import { ServerProcess } from "../helpers/server.ts";

const QUEUES = 2000;

/** Descriptors the server holds on files in its data directory. */
function journalDescriptors(server: ServerProcess): number {
  const dir = `/proc/${server.proc.pid}/fd`;
  let count = 0;
  for (const fd of readdirSync(dir)) {
    try {
      if (readlinkSync(`${dir}/${fd}`).startsWith(server.dataDir)) count++;
    } catch {
      // closed while we looked
    }
  }
  return count;
}

/** Waits until the server holds at most `most` descriptors in its data directory (idle files close within 2 s). */
async function untilDescriptorsAtMost(server: ServerProcess, most: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const count = journalDescriptors(server);
    if (count <= most || Date.now() > deadline) return count;
    await Bun.sleep(100);
  }
}

async function fill(server: ServerProcess, queues: number): Promise<void> {
  const c = await server.client();
  for (let from = 0; from < queues; from += 500) {
    let request = "";
    for (let i = from; i < Math.min(queues, from + 500); i++) request += `set cheap${i} 0 0 5\r\nhello\r\n`;
    await c.send(request);
    for (let i = from; i < Math.min(queues, from + 500); i++) expect(await c.readLine()).toBe("STORED");
  }
  c.close();
}

test(`${QUEUES} idle queues hold no open file and a few KB each; they load again with none open`, async () => {
  const server = await ServerProcess.start();
  const before = residentMiB(server.proc.pid);
  await fill(server, QUEUES);
  // The lock file stays open; every journal closes once idle.
  expect(await untilDescriptorsAtMost(server, 1)).toBeLessThanOrEqual(1);
  const perQueueKiB = ((residentMiB(server.proc.pid) - before) * 1024) / QUEUES;
  // Was about 430 KiB a queue (a 1 MiB read buffer and a 64 KiB write buffer each, touched in part).
  expect(perQueueKiB).toBeLessThan(32);
  await server.stop();

  const again = await server.restart();
  expect(journalDescriptors(again)).toBeLessThanOrEqual(1);
  const c = await again.client();
  expect(await c.get(`cheap${QUEUES - 1}`)).toBe("hello");
  expect((await c.stats()).get("queue_cheap0_items")).toBe("1");
  c.close();
  await again.stop();
  again.removeData();
}, 120_000);

test("a get of a new name creates no file; a fanout child's get does, and it gets its parent's items after a restart", async () => {
  const server = await ServerProcess.start();
  const c = await server.client();
  expect(await c.get("nobody")).toBeNull();
  expect(await c.get("parent+child")).toBeNull();
  c.close();
  await server.stop();
  const files = readdirSync(server.dataDir).filter((name) => !name.startsWith("."));
  expect(files).toEqual(["parent+child"]);

  const again = await server.restart();
  const c2 = await again.client();
  expect(await c2.set("parent", "fan")).toBe("STORED");
  expect(await c2.get("parent+child")).toBe("fan");
  c2.close();
  await again.stop();
  again.removeData();
});
