/**
 * Shared directory fsyncs (directory_sync.ts): one in flight per directory, the next made for
 * everyone who asked meanwhile; each answer comes after an fsync that began after it asked.
 */
import { afterEach, expect, test } from "bun:test";
import { syncDirectoryShared } from "../../src/journal/directory_sync.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const real = { ...fileSystem };

afterEach(() => {
  Object.assign(fileSystem, real);
});

test("a thousand asking at once make two fsyncs, not a thousand; each is answered after one that began after it asked", async () => {
  const dir = tempDir();
  const held: Array<() => void> = [];
  /** The fsync each answer came after (1, 2, ...), by asker. */
  let began = 0;
  fileSystem.fsyncAsync = (fd, done) => {
    const number = ++began;
    held.push(() => real.fsyncAsync(fd, (error) => (answeredBy = number, done(error))));
  };
  let answeredBy = 0;
  const answers: Array<{ asked: number; by: number }> = [];
  const ask = (): Promise<void> => {
    const asked = began;
    return new Promise((resolve) => syncDirectoryShared(dir, () => (answers.push({ asked, by: answeredBy }), resolve())));
  };
  const first = ask();
  const rest = Array.from({ length: 999 }, ask);
  expect(held.length).toBe(1);
  held.shift()!();
  await first;
  expect(held.length).toBe(1);
  held.shift()!();
  await Promise.all(rest);
  expect(began).toBe(2);
  expect(answers.length).toBe(1000);
  expect(answers.every(({ asked, by }) => by > asked)).toBe(true);
});

test("an fsync that fails answers those it served with its error; the next ones get their own", async () => {
  const dir = tempDir();
  let calls = 0;
  fileSystem.fsyncAsync = (fd, done) => (++calls === 1 ? setImmediate(() => done(new Error("EIO: injected"))) : real.fsyncAsync(fd, done));
  const errors = await Promise.all([0, 1, 2].map(() => new Promise<string | null>((resolve) => syncDirectoryShared(dir, (error) => resolve(error?.message ?? null)))));
  expect(errors).toEqual(["EIO: injected", null, null]);
});

test("one asking from an answer (in the callbacks of an fsync that returned) waits for an fsync that begins after it", async () => {
  const dir = tempDir();
  let began = 0;
  let answeredBy = 0;
  fileSystem.fsyncAsync = (fd, done) => {
    const number = ++began;
    real.fsyncAsync(fd, (error) => ((answeredBy = number), done(error)));
  };
  const late = await new Promise<{ asked: number; by: number }>((resolve) => {
    syncDirectoryShared(dir, () => {
      const asked = began;
      syncDirectoryShared(dir, () => resolve({ asked, by: answeredBy }));
    });
  });
  expect(late.by).toBeGreaterThan(late.asked);
});
