import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SERVER_STATUSES } from "../../src/config/schema.ts";
import { configureLog } from "../../src/log.ts";
import { blocksReads, blocksWrites, parseStatus, ServerStatus, stricter } from "../../src/server/status.ts";
import { FaultInjector } from "../helpers/faulty_fs.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** A queue_path with `.kestrel/` in it, as a locked data directory has. */
function queuePath(): string {
  const dir = tempDir();
  mkdirSync(join(dir, ".kestrel"));
  return dir;
}

const statusFile = (dir: string) => join(dir, ".kestrel", "status");

let logFile: string;
beforeEach(() => {
  logFile = join(tempDir(), "log");
  configureLog("info", logFile);
});
afterEach(() => configureLog("info", null));
const logged = () => readFileSync(logFile, "utf8");

describe("the states", () => {
  test("names parse in any case, with surrounding whitespace; anything else is not a status", () => {
    expect(parseStatus("READONLY")).toBe("readonly");
    expect(parseStatus(" Quiescent\n")).toBe("quiescent");
    expect(parseStatus("writeAvoid")).toBe("writeavoid");
    expect(parseStatus("up")).toBe("up");
    for (const text of ["", "down", "read only", "upp", "up up"]) expect(parseStatus(text)).toBeNull();
  });

  test("readonly and quiescent refuse sets; only quiescent refuses gets; strictness goes up, writeavoid, readonly, quiescent", () => {
    expect(SERVER_STATUSES.map((status) => [blocksWrites(status), blocksReads(status)])).toEqual([
      [false, false],
      [false, false],
      [true, false],
      [true, true],
    ]);
    expect(stricter("up", "readonly")).toBe("readonly");
    expect(stricter("quiescent", "readonly")).toBe("quiescent");
    expect(stricter("writeavoid", "up")).toBe("writeavoid");
  });
});

describe("ServerStatus", () => {
  test("with nothing saved it starts at default_status, and says so", () => {
    const status = ServerStatus.load(queuePath(), "writeavoid", () => {});
    expect(status.current).toBe("writeavoid");
    expect(status.writeRefusal()).toBeNull();
    expect(status.readRefusal()).toBeNull();
    expect(logged()).toContain("status 'writeavoid' (default_status; none saved in");
  });

  test("a change is saved (fsynced, replaced atomically) and found by the next load, whatever default_status says", () => {
    const dir = queuePath();
    const status = ServerStatus.load(dir, "up", () => {});
    expect(status.change("readonly", "192.0.2.1")).toBeNull();
    expect(status.current).toBe("readonly");
    expect(readFileSync(statusFile(dir), "utf8")).toBe("readonly\n");
    expect(readdirSync(join(dir, ".kestrel"))).toEqual(["status"]);
    expect(logged()).toContain("INFO  status changed from 'up' to 'readonly' by 192.0.2.1\n");
    const again = ServerStatus.load(dir, "quiescent", () => {});
    expect(again.current).toBe("readonly");
    expect(logged()).toContain(`status 'readonly' restored from ${statusFile(dir)}`);
  });

  test("refusals name the status", () => {
    const status = ServerStatus.load(queuePath(), "readonly", () => {});
    expect(status.writeRefusal()).toBe("server is readonly: sets are refused");
    expect(status.readRefusal()).toBeNull();
    expect(status.change("quiescent", "test")).toBeNull();
    expect(status.writeRefusal()).toBe("server is quiescent: sets are refused");
    expect(status.readRefusal()).toBe("server is quiescent: gets are refused");
  });

  test("waiting gets are released only when a change starts blocking reads", () => {
    let released = 0;
    const status = ServerStatus.load(queuePath(), "up", () => released++);
    for (const next of ["writeavoid", "readonly", "quiescent", "quiescent", "up", "quiescent"] as const) status.change(next, "test");
    expect(released).toBe(2);
  });

  test("a change that can't be saved takes no effect and says why", () => {
    const dir = queuePath();
    const status = ServerStatus.load(dir, "up", () => {});
    const faults = FaultInjector.install();
    try {
      faults.set([{ op: "fsync", code: "ENOSPC" }]);
      const error = status.change("quiescent", "192.0.2.1");
      expect(error).toStartWith(`status not changed: can't save it in ${statusFile(dir)}:`);
      expect(error).toContain("ENOSPC");
    } finally {
      faults.uninstall();
    }
    expect(status.current).toBe("up");
    expect(status.writeRefusal()).toBeNull();
    expect(existsSync(statusFile(dir))).toBe(false);
    expect(readdirSync(join(dir, ".kestrel"))).toEqual([]);
    expect(logged()).toContain("(asked for 'quiescent' by 192.0.2.1)");
  });

  test("a saved status that isn't one is logged and the server starts readonly, or default_status if stricter", () => {
    const dir = queuePath();
    writeFileSync(statusFile(dir), "\x00\x00garbage");
    expect(ServerStatus.load(dir, "up", () => {}).current).toBe("readonly");
    expect(logged()).toMatch(/ERROR saved status in .*status ignored, it holds "\\u0000\\u0000garbage", not a status; starting 'readonly'/);
    expect(ServerStatus.load(dir, "quiescent", () => {}).current).toBe("quiescent");
    // The file is left for the operator; the next change replaces it.
    expect(readFileSync(statusFile(dir), "utf8")).toBe("\x00\x00garbage");
    const status = ServerStatus.load(dir, "up", () => {});
    expect(status.change("up", "test")).toBeNull();
    expect(ServerStatus.load(dir, "quiescent", () => {}).current).toBe("up");
  });

  test("a data directory that can't be looked at is an error in the log, never a failed start", () => {
    const dir = queuePath();
    const faults = FaultInjector.install();
    try {
      faults.set([{ op: "stat", code: "EACCES", path: "\\.kestrel$" }]);
      expect(ServerStatus.load(dir, "up", () => {}).current).toBe("up");
    } finally {
      faults.uninstall();
    }
    expect(logged()).toMatch(/could not look for leftover status temp files in .*EACCES/);
  });

  test("a saved status that can't be read is treated the same way", () => {
    const dir = queuePath();
    mkdirSync(statusFile(dir)); // reading a directory fails with EISDIR
    expect(ServerStatus.load(dir, "writeavoid", () => {}).current).toBe("readonly");
    expect(logged()).toMatch(/ERROR saved status in .* ignored, can't read it: .*EISDIR/);
  });

  test("temp files of a write cut short by a crash are removed at load; other files are not", () => {
    const dir = queuePath();
    writeFileSync(join(dir, ".kestrel", ".status.123.456.tmp"), "quiesc");
    writeFileSync(join(dir, ".kestrel", "lock"), "");
    writeFileSync(statusFile(dir), "writeavoid\n");
    expect(ServerStatus.load(dir, "up", () => {}).current).toBe("writeavoid");
    expect(readdirSync(join(dir, ".kestrel")).sort()).toEqual(["lock", "status"]);
  });
});
