import { afterEach, describe, expect, test } from "bun:test";
import { fileSystem } from "../../src/journal/files.ts";
import { collectFsyncs, fsyncGrouped } from "../../src/journal/grouped_fsync.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const real = { fsyncAsync: fileSystem.fsyncAsync, syncFileSystemReady: fileSystem.syncFileSystemReady, syncFileSystemAsync: fileSystem.syncFileSystemAsync };
/** Syncs a test left unanswered: answered after it, so no fsync stays counted in flight. */
let unanswered: Array<{ done: (error: Error | null) => void }> = [];
afterEach(() => {
  for (const sync of unanswered) sync.done(null);
  unanswered = [];
  Object.assign(fileSystem, real);
});

/** A file system that records the syncs asked of it and answers them when told. */
function recordingFileSystem(syncfsReady = true) {
  const fsyncs: Array<{ fd: number; done: (error: Error | null) => void }> = [];
  const syncfs: Array<{ dir: string; done: (error: Error | null) => void }> = [];
  unanswered.push(...[fsyncs, syncfs].map((list) => ({ done: (error: Error | null) => list.splice(0).forEach((sync) => sync.done(error)) })));
  Object.assign(fileSystem, {
    fsyncAsync: (fd: number, done: (error: Error | null) => void) => void fsyncs.push({ fd, done }),
    syncFileSystemReady: () => syncfsReady,
    syncFileSystemAsync: (dir: string, done: (error: Error | null) => void) => void syncfs.push({ dir, done }),
  });
  return { fsyncs, syncfs };
}

describe("grouped fsyncs", () => {
  test("a request outside a collection is an fsync at once", () => {
    const { fsyncs, syncfs } = recordingFileSystem();
    fsyncGrouped("/data/q", 7, () => {});
    expect(fsyncs.map((f) => f.fd)).toEqual([7]);
    expect(syncfs).toEqual([]);
  });

  test("eight or more of one directory in a collection: one syncfs, whose result is each one's", () => {
    const { fsyncs, syncfs } = recordingFileSystem();
    const results: Array<Error | null> = [];
    collectFsyncs(() => {
      for (let fd = 10; fd < 20; fd++) fsyncGrouped(`/data/q${fd}`, fd, (error) => results.push(error));
      expect(syncfs).toEqual([]); // sent when the collection ends
    });
    expect(fsyncs).toEqual([]);
    expect(syncfs.map((s) => s.dir)).toEqual(["/data"]);
    syncfs[0]!.done(null);
    expect(results).toEqual(Array(10).fill(null));

    const failure = new Error("EIO");
    collectFsyncs(() => {
      for (let fd = 10; fd < 18; fd++) fsyncGrouped(`/data/q${fd}`, fd, (error) => results.push(error));
    });
    syncfs[1]!.done(failure);
    expect(results.slice(10)).toEqual(Array(8).fill(failure));
  });

  test("fewer than eight of a directory, or no syncfs here: an fsync each", () => {
    const { fsyncs, syncfs } = recordingFileSystem();
    collectFsyncs(() => {
      for (let fd = 1; fd <= 7; fd++) fsyncGrouped(`/data/q${fd}`, fd, () => {});
      for (let fd = 8; fd <= 10; fd++) fsyncGrouped(`/other/q${fd}`, fd, () => {});
    });
    expect(fsyncs.map((f) => f.fd)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(syncfs).toEqual([]);

    const without = recordingFileSystem(false);
    collectFsyncs(() => {
      for (let fd = 1; fd <= 12; fd++) fsyncGrouped(`/data/q${fd}`, fd, () => {});
    });
    expect(without.fsyncs.length).toBe(12);
    expect(without.syncfs).toEqual([]);
  });

  test("the next fsyncs asked for by the journals one syncfs served are collected again", () => {
    const { fsyncs, syncfs } = recordingFileSystem();
    let rounds = 0;
    const ask = (fd: number) => fsyncGrouped(`/data/q${fd}`, fd, () => rounds < 2 && ask(fd));
    collectFsyncs(() => {
      for (let fd = 1; fd <= 8; fd++) ask(fd);
    });
    rounds++;
    syncfs[0]!.done(null);
    expect(syncfs.length).toBe(2);
    expect(fsyncs).toEqual([]);
  });

  test("the real syncfs: a worker thread syncs the file system holding a directory", async () => {
    if (process.platform !== "linux") return;
    const deadline = Date.now() + 10_000;
    while (!fileSystem.syncFileSystemReady() && Date.now() < deadline) await Bun.sleep(5);
    expect(fileSystem.syncFileSystemReady()).toBe(true);
    const error = await new Promise<Error | null>((resolve) => fileSystem.syncFileSystemAsync(tempDir(), resolve));
    expect(error).toBeNull();
    const missing = await new Promise<Error | null>((resolve) => fileSystem.syncFileSystemAsync("/nonexistent/dir", resolve));
    expect(String(missing)).toMatch(/syncfs of the file system holding \/nonexistent\/dir failed: .*ENOENT/);
  });
});
