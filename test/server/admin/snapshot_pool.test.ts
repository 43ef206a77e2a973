/**
 * Shared snapshots: requests waiting together share one, a request never gets a snapshot begun
 * before it arrived, at most `maxHeld` exist at once, a client gone before its snapshot began
 * gets none, and an error reaches every request that waited for that snapshot.
 */
import { expect, spyOn, test } from "bun:test";
import { log } from "../../../src/log.ts";
import { SnapshotPool, type SnapshotLease } from "../../../src/server/admin/snapshot_pool.ts";
import type { Snapshot } from "../../../src/server/snapshot.ts";

/** A pool over a snapshot taker the test finishes by hand; each snapshot is numbered. */
function pool(maxHeld?: number) {
  const pending: Array<(result: Snapshot | Error) => void> = [];
  let taken = 0;
  const snapshots = new SnapshotPool((done) => {
    taken++;
    pending.push(done);
  }, maxHeld);
  const finish = (result?: Error) => pending.shift()!(result ?? ({ status: "up", server: [["n", taken]], queues: [], aliases: [], unavailable: [] } as unknown as Snapshot));
  return { snapshots, finish, taken: () => taken, pendingCount: () => pending.length };
}

/** The pool starts a snapshot in the turn after it is asked for. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const numberOf = (lease: SnapshotLease | null) => (lease!.snapshot.server as unknown as Array<[string, number]>)[0]![1];

test("requests that arrive in one turn share one snapshot; one that comes while it is taken waits for the next", async () => {
  const { snapshots, finish, taken } = pool();
  const first = [snapshots.lease(), snapshots.lease(), snapshots.lease()];
  expect(taken()).toBe(0);
  await nextTurn();
  expect(taken()).toBe(1);
  const later = [snapshots.lease(), snapshots.lease()];
  await nextTurn();
  expect(taken()).toBe(1);
  finish();
  const firstLeases = await Promise.all(first);
  expect(firstLeases.map(numberOf)).toEqual([1, 1, 1]);
  expect(firstLeases.map((lease) => lease!.id)).toEqual([1, 1, 1]); // the key of the reports shared by these requests
  // The next one begins once the first is handed out, for the two that came meanwhile.
  await nextTurn();
  expect(taken()).toBe(2);
  finish();
  expect((await Promise.all(later)).map((lease) => [numberOf(lease), lease!.id])).toEqual([
    [2, 2],
    [2, 2],
  ]);
});

test("at most maxHeld snapshots exist at once: the next waits until every lease on one is released", async () => {
  const { snapshots, finish, taken } = pool(2);
  const a = snapshots.lease();
  await nextTurn();
  finish();
  const leaseA = await a;
  const b = snapshots.lease();
  await nextTurn();
  finish();
  const leaseB = await b;
  const c = snapshots.lease();
  const c2 = snapshots.lease();
  await nextTurn();
  expect(taken()).toBe(2);
  leaseA!.release();
  leaseA!.release(); // a second release changes nothing
  await nextTurn();
  expect(taken()).toBe(3);
  finish();
  expect((await Promise.all([c, c2])).map(numberOf)).toEqual([3, 3]);
  const d = snapshots.lease();
  // Snapshots 2 and 3 are held (3 by two leases): one of its leases released is not enough.
  (await c)!.release();
  await nextTurn();
  expect(taken()).toBe(3);
  (await c2)!.release();
  await nextTurn();
  expect(taken()).toBe(4);
  finish();
  expect(numberOf(await d)).toBe(4);
  leaseB!.release();
});

test("a request whose client went away before its snapshot began gets none, and none is taken for it", async () => {
  const { snapshots, finish, taken } = pool(1);
  const held = snapshots.lease();
  await nextTurn();
  finish();
  const lease = await held;
  const gone = new AbortController();
  const waiting = snapshots.lease(gone.signal);
  gone.abort();
  lease!.release();
  expect(await waiting).toBeNull();
  expect(taken()).toBe(1);
});

test("a snapshot that fails rejects every request that waited for it and frees its place", async () => {
  const { snapshots, finish, taken } = pool(1);
  const waiting = [snapshots.lease(), snapshots.lease()];
  await nextTurn();
  finish(new Error("a bug"));
  for (const request of waiting) await expect(request).rejects.toThrow("a bug");
  const next = snapshots.lease();
  await nextTurn();
  expect(taken()).toBe(2);
  finish();
  expect(numberOf(await next)).toBe(2);
});

test("a snapshot whose taking throws (a bug) is logged once and fails the requests that waited for it; the next one is taken as usual", async () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    let calls = 0;
    const snapshots = new SnapshotPool((done) => {
      if (++calls === 1) throw new Error("a bug in a snapshot");
      done({ status: "up", server: [["n", calls]], queues: [], aliases: [], unavailable: [] } as unknown as Snapshot);
    });
    const failed = [snapshots.lease(), snapshots.lease()];
    const results = await Promise.allSettled(failed);
    expect(results.map((result) => (result.status === "rejected" ? String(result.reason) : result.status))).toEqual([
      "Error: internal error: a bug in a snapshot",
      "Error: internal error: a bug in a snapshot",
    ]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error taking a stats snapshot: a bug in a snapshot"]);
    expect(numberOf(await snapshots.lease())).toBe(2);
  } finally {
    logged.mockRestore();
  }
});
