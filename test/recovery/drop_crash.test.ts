/**
 * kill -9 while the old journal files of a flushed or deleted queue are still being deleted (a
 * fault holds the second background delete, as a very slow disk would, so the deletion is under
 * way when the server dies): the next start serves none of the items dropped, and every item set
 * after the drop; a deleted queue made again by those sets serves only the new items, its new
 * files having never met the old ones' names. The old files left go at that start.
 */
import { expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CONFIG = 'max_memory_size = "64KiB"\nmax_journal_size = "16KiB"\n';
const OLD_ITEMS = 3000;

/** Sets `items` on `queue`, pipelined 100 a write (each write a journal write or so: segments are sealed after one); throws unless each is STORED. */
async function setPipelined(c: TestClient, queue: string, items: readonly string[]): Promise<void> {
  for (let from = 0; from < items.length; from += 100) {
    const batch = items.slice(from, from + 100);
    await c.send(batch.map((item) => `set ${queue} 0 0 ${item.length}\r\n${item}\r\n`).join(""));
    for (const item of batch) {
      const reply = await c.readLine();
      if (reply !== "STORED") throw new Error(`set ${queue} ${item}: ${reply}`);
    }
  }
}

const temps = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".tmp"));

for (const [command, reply] of [
  ["flush q", "END"],
  ["delete q", "DELETED"],
  ["flush_all", "Flushed all queues."],
] as const) {
  test(`\`${command}\` of a queue of many segments, then sets, then kill -9 while the old files are being deleted: none of the old items comes back, every new one is there`, async () => {
    const faultsFile = join(tempDir(), "faults.json");
    writeFileSync(faultsFile, JSON.stringify([{ op: "removeAsync", code: "HANG", after: 1 }]));
    const server = await ServerProcess.start({ config: CONFIG, faultsFile });
    const c = await server.client();
    await setPipelined(
      c,
      "q",
      Array.from({ length: OLD_ITEMS }, (_, i) => `old-${i}-`.padEnd(200, "x")),
    );
    const segments = () => readdirSync(server.dataDir).filter((name) => /^q\.\d+$/.test(name)).length;
    expect(segments()).toBeGreaterThan(5);
    expect(await c.call(command)).toBe(reply);
    // The queue is empty at once; sets go on (a deleted queue is made again).
    expect(await c.get("q")).toBeNull();
    const fresh = Array.from({ length: 5 }, (_, i) => `new-${i}`);
    await setPipelined(c, "q", fresh);
    // The deletion is under way: the old files wait under temp names (one was deleted, the next hangs).
    expect(temps(server.dataDir).length).toBeGreaterThan(3);
    c.close();
    await server.kill9();

    const again = await server.restart({ faultsFile: undefined });
    const d = await again.client();
    expect(await d.drain("q")).toEqual(fresh);
    d.close();
    await again.stop();
    expect(temps(server.dataDir)).toEqual([]);
  });
}

for (const command of ["flush q", "flush_all"]) {
  test(`\`${command}\` answers once its new journal is committed: with the pack's fsync held, a set pipelined after it is kept and served, no answer comes, and a kill -9 replays the queue as it was (then that set, if it was written)`, async () => {
    const faultsFile = join(tempDir(), "faults.json");
    writeFileSync(faultsFile, JSON.stringify([{ op: "fsyncAsync", code: "HANG", path: "\\.pack\\..*\\.tmp$" }]));
    const server = await ServerProcess.start({ config: CONFIG, faultsFile });
    const c = await server.client();
    const old = Array.from({ length: OLD_ITEMS }, (_, i) => `old-${i}-`.padEnd(200, "x"));
    await setPipelined(c, "q", old);
    let answered = false;
    // No answer is expected before the kill: the read fails once the connection closes.
    c.send(`${command}\r\nset q 0 0 5\r\nafter\r\n`)
      .then(() => c.readLine())
      .then(
        () => (answered = true),
        () => undefined,
      );
    const other = await server.client();
    // The flush is applied in memory at once, and the set after it too: another connection sees just that item.
    let head = await other.get("q/peek");
    while (head !== "after") head = await other.get("q/peek");
    expect(answered).toBe(false);
    other.close();
    await server.kill9();
    expect(answered).toBe(false);
    c.close();

    const again = await server.restart({ faultsFile: undefined });
    const d = await again.client();
    // The set was not answered either: it may or may not have reached the journal, but only after the old items.
    const drained = await d.drain("q");
    expect([old, [...old, "after"]]).toContainEqual(drained);
    d.close();
    await again.stop();
  });
}
