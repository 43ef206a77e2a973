/**
 * kill -9 at every file-system step of a Kestrel import: a server started on a queue_path holding
 * the 2.4 fixture is killed right before its k-th write, fsync, link, rename or remove there, for
 * every k until one start gets through; each time, a server started again without the fault
 * must serve exactly what Kestrel would, with the originals all in imported/ and none left
 * beside the converted journal.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FaultOp } from "../helpers/faulty_fs.ts";
import { KESTREL_2_4 } from "../helpers/kestrel_fixtures.ts";
import { writeKestrelFiles } from "../helpers/kestrel_journal.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const { queue, files, expected } = KESTREL_2_4;
const OPS: FaultOp[] = ["writev", "fsync", "link", "rename", "remove"];

/** Starts a server on `dataDir` that kills itself before the `after`+1-th `op` on the queue's files; true if it got through its start. */
async function startKilledAt(dataDir: string, op: FaultOp, after: number): Promise<boolean> {
  const faultsFile = join(tempDir(), "faults.json");
  const path = `^${dataDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(/imported)?(/\\.?${queue}[^/]*)?$`;
  writeFileSync(faultsFile, JSON.stringify([{ op, code: "SIGKILL", path, after, times: 1 }]));
  let server: ServerProcess;
  try {
    server = await ServerProcess.start({ dataDir, faultsFile });
  } catch {
    return false; // killed during the import
  }
  return (await server.stop()) === 0;
}

test("a Kestrel import killed at any step is redone or finished by the next start, exactly", async () => {
  const crashes: string[] = [];
  for (const op of OPS) {
    for (let after = 0; ; after++) {
      const dataDir = tempDir();
      writeKestrelFiles(dataDir, files);
      const survived = await startKilledAt(dataDir, op, after);
      if (!survived) crashes.push(`${op}#${after}`);
      const again = await ServerProcess.start({ dataDir });
      const c = await again.client();
      expect({ at: `${op}#${after}`, items: await c.drain(queue) }).toEqual({ at: `${op}#${after}`, items: [...expected] });
      c.close();
      await again.stop();
      expect(readdirSync(dataDir).filter((name) => name.startsWith(queue))).toEqual([queue]);
      for (const [name, bytes] of Object.entries(files)) expect(readFileSync(join(dataDir, "imported", name))).toEqual(Buffer.from(bytes));
      if (survived) break;
    }
  }
  // Every op was hit at least once during the import (else this test proves nothing for it).
  for (const op of OPS) expect(crashes.some((at) => at.startsWith(`${op}#`))).toBe(true);
});
