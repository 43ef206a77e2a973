/**
 * The fsync pipeline: group commit, a stale fsync (one in flight when everything was confirmed
 * another way) still starting the next one, and an interval fsync that comes due while one is in
 * flight. fsyncs here return only when the test lets them, as on a slow disk.
 */
import { afterEach, describe, expect, jest, test } from "bun:test";
import { Commit } from "../../src/journal/commit.ts";
import { fileSystem } from "../../src/journal/files.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { FsyncPipeline, type Unsynced } from "../../src/journal/fsync_pipeline.ts";
import { bytes } from "../helpers/bytes.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** A file whose fsyncs wait until `release` returns the oldest one. */
class SlowFile {
  readonly pending: Array<(error: Error | null) => void> = [];
  started = 0;

  syncAsync(done: (error: Error | null) => void): void {
    this.started++;
    this.pending.push(done);
  }

  release(): void {
    this.pending.shift()!(null);
  }
}

const batch = (): Unsynced => ({ commit: new Commit(), chunks: [], extent: { bytes: 1, records: 1 } });

describe("FsyncPipeline", () => {
  afterEach(() => void jest.useRealTimers());

  test("batches written during an fsync share the next one", () => {
    const file = new SlowFile();
    const pipeline = new FsyncPipeline(file, { syncFailed: () => {} });
    const first = batch();
    const [second, third] = [batch(), batch()];
    pipeline.add(first);
    pipeline.add(second);
    pipeline.add(third);
    expect(file.started).toBe(1);
    file.release();
    expect([first.commit.state, second.commit.state, file.started]).toEqual(["durable", "pending", 2]);
    file.release();
    expect([second.commit.state, third.commit.state]).toEqual(["durable", "durable"]);
  });

  test("a batch written while a stale fsync is in flight gets its own once that one returns", () => {
    const file = new SlowFile();
    const pipeline = new FsyncPipeline(file, { syncFailed: () => {} });
    pipeline.add(batch());
    pipeline.confirmAll(); // a rotation fsynced the file itself: the fsync in flight decides nothing
    const later = batch();
    pipeline.add(later);
    expect(file.started).toBe(1); // waits for the one in flight
    file.release();
    expect(file.started).toBe(2);
    file.release();
    expect(later.commit.state).toBe("durable");
  });

  test("an interval fsync due while one is in flight runs after it", () => {
    jest.useFakeTimers();
    const file = new SlowFile();
    const pipeline = new FsyncPipeline(file, { syncFailed: () => {} });
    pipeline.syncWithin(20);
    jest.advanceTimersByTime(20);
    expect(file.started).toBe(1);
    pipeline.syncWithin(20); // a write after that fsync began
    jest.advanceTimersByTime(20); // due while the first is still in flight
    file.release();
    jest.advanceTimersByTime(20);
    expect(file.started).toBe(2);
    file.release();
    expect(pipeline.idle).toBe(true);
  });
});

describe("sync_journal = always, through the journal", () => {
  const realAsync = fileSystem.fsyncAsync;
  afterEach(() => void (fileSystem.fsyncAsync = realAsync));

  test("a write after a rotation that raced an fsync in flight is still synced and acknowledged", () => {
    const held: Array<() => void> = [];
    fileSystem.fsyncAsync = (_fd, done) => void held.push(() => done(null));
    const { journal } = openQueueJournal(tempDir(), "q", { policy: { kind: "always" }, segmentSize: 1024 });
    const first = journal.appendAdd({ id: 1, addTime: 0, expiry: 0, flags: 0, data: new Uint8Array(2000) });
    flushJournals(); // written, its fsync in flight; the segment is full: the rotation fsyncs and confirms it
    expect([first.state, held.length]).toEqual(["durable", 1]);
    const second = journal.appendAdd({ id: 2, addTime: 0, expiry: 0, flags: 0, data: bytes("x") });
    flushJournals(); // waits for the fsync in flight
    held.shift()!();
    expect(held.length).toBe(1);
    held.shift()!();
    expect(second.state).toBe("durable");
    journal.close();
  });
});
