/**
 * The server runs itself again once at start with Bun's allocator tuned (src/cli/allocator_tuning.ts):
 * the same process, its arguments kept, MIMALLOC_PURGE_DELAY set unless the operator set it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { PURGE_DELAY_MS, PURGE_DELAY_VARIABLE } from "../../src/cli/allocator_tuning.ts";
import { ServerProcess } from "../helpers/server.ts";

/** A process's environment variable, as the kernel has it (/proc/<pid>/environ), or undefined. */
function environOf(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((line) => line.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

describe.skipIf(process.platform !== "linux")("allocator tuning", () => {
  test.skipIf(process.env[PURGE_DELAY_VARIABLE] !== undefined)("the server runs with the purge delay set, as the process it was started as, and serves", async () => {
    const server = await ServerProcess.start();
    expect(environOf(server.proc.pid, PURGE_DELAY_VARIABLE)).toBe(String(PURGE_DELAY_MS));
    expect(readFileSync(`/proc/${server.proc.pid}/cmdline`, "utf8").split("\0")).toContain(server.dataDir);
    const c = await server.client();
    expect(await c.set("q", "kept")).toBe("STORED");
    expect(await c.get("q")).toBe("kept");
    c.close();
    expect(await server.stop()).toBe(0);
    server.removeData();
  });

  test("an operator's own purge delay is kept", async () => {
    const server = await ServerProcess.start({ env: { [PURGE_DELAY_VARIABLE]: "250" } });
    expect(environOf(server.proc.pid, PURGE_DELAY_VARIABLE)).toBe("250");
    expect(await server.stop()).toBe(0);
    server.removeData();
  });
});
