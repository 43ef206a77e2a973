/**
 * Out of file descriptors (a real limit, set on the running server with prlimit): a journal
 * rotation that can't open its new segment changes nothing, the queue keeps taking items, and the
 * rotation happens once descriptors are free again. Nothing acknowledged is lost.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { ServerProcess } from "../helpers/server.ts";

const hasPrlimit = spawnSync("prlimit", ["--version"]).status === 0;

/** Sets the soft limit on open files of `pid` (the hard one stays: raising it back needs privileges). */
function setFileLimit(pid: number, soft: number): void {
  const result = spawnSync("prlimit", ["--pid", String(pid), `--nofile=${soft}:`]);
  if (result.status !== 0) throw new Error(`prlimit failed: ${result.stderr}`);
}

test.skipIf(!hasPrlimit)("a rotation without a free descriptor is put off, not half done; items keep being stored", async () => {
  const server = await ServerProcess.start({ config: 'max_journal_size = "16KiB"\n' });
  const pid = server.proc.pid;
  const c = await server.client();
  const acked: string[] = [];
  const set = async (data: string) => {
    expect(await c.set("fd", data)).toBe("STORED");
    acked.push(data);
  };
  await set("first");
  // No descriptor above those open now may be created.
  const open = readdirSync(`/proc/${pid}/fd`).map(Number);
  setFileLimit(pid, Math.max(...open) + 1);
  const mark = server.output.length;
  for (let i = 0; i < 60; i++) await set(`${i}:${"y".repeat(500)}`);
  await server.waitForLog(/queue 'fd': could not rotate the journal, appending to the current segment .*EMFILE/, mark);
  expect(server.output.slice(mark).match(/could not rotate/g)?.length).toBe(1);

  setFileLimit(pid, 1024);
  const restored = server.output.length;
  await set("after");
  await server.waitForLog(/queue 'fd': journal rotation works again/, restored);
  c.close();
  await server.kill9();
  const again = await server.restart();
  const c2 = await again.client();
  expect(await c2.drain("fd")).toEqual(acked);
  c2.close();
  expect(await again.stop()).toBe(0);
  again.removeData();
});
