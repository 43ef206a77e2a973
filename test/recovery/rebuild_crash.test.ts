/**
 * kill -9 while a queue with items waiting on disk has its journal rebuilt over turns (a sealed
 * segment replaced under the server by a copy of itself, so the old files and the queue hold the
 * same items and nothing is lost): a server killed right before the k-th write to the pack (the
 * head and the items in memory, then each slice of the items on disk), or once the rebuild is in
 * place, is started again and must serve, in order, exactly the items it held: none lost, none
 * twice, none taken before the kill.
 */
import { expect, test } from "bun:test";
import { copyFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CONFIG = 'max_memory_size = "64KiB"\nmax_journal_size = "512KiB"\n';
const ITEMS = Array.from({ length: 3000 }, (_, i) => `${i}:${"x".repeat(1000)}`);
const TAKEN = 10;
/** The pack a rebuild writes, under its temp name. */
const PACK_TEMP = "/\\.q\\.\\d+\\.pack\\.\\d+\\.\\d+\\.tmp$";

/** The ids of the items a server on a fresh directory serves after a rebuild of q killed before pack write `killAt` (null: killed once it is in place). */
async function servedAfterKill(killAt: number | null): Promise<number[]> {
  const faultsFile = join(tempDir(), "faults.json");
  writeFileSync(faultsFile, "[]");
  const server = await ServerProcess.start({ config: CONFIG, faultsFile });
  const c = await server.client();
  await c.setEach("q", ITEMS);
  for (const item of ITEMS.slice(0, TAKEN)) expect(await c.get("q")).toBe(item);
  if (killAt !== null) await server.setFaults([{ op: "writev", code: "SIGKILL", path: PACK_TEMP, after: killAt, times: 1 }]);
  const mark = server.output.length;
  const sealed = readdirSync(server.dataDir).filter((name) => /^q\.\d+$/.test(name)).sort();
  expect(sealed.length).toBeGreaterThan(3);
  const first = join(server.dataDir, sealed[0]!);
  copyFileSync(first, `${first}.copy`);
  renameSync(`${first}.copy`, first);
  if (killAt === null) {
    await server.waitForLog(/queue 'q': journal rebuilt from the \d+ item\(s\) held \(\d+ of them waiting on disk\)/, mark);
    await server.kill9();
  } else {
    await server.exited();
    expect(server.output.slice(mark)).not.toContain("journal rebuilt");
  }
  c.close();
  const again = await server.restart({ faultsFile: undefined });
  const c2 = await again.client();
  const served = await c2.drain("q");
  c2.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
  return served.map((item) => Number(item.split(":")[0]));
}

test("a rebuild over turns of a queue with items on disk killed before any write to its pack, mid-copy, or once in place: the restart serves exactly the items held, in order", async () => {
  const held = Array.from({ length: ITEMS.length - TAKEN }, (_, i) => TAKEN + i).join();
  for (const killAt of [0, 1, 4, null]) {
    expect({ killAt, served: (await servedAfterKill(killAt)).join() }).toEqual({ killAt, served: held });
  }
}, 120_000);
