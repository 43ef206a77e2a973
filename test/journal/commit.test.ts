import { describe, expect, spyOn, test } from "bun:test";
import { Commit, DURABLE, JoinedCommits, allOf } from "../../src/journal/commit.ts";
import { log } from "../../src/log.ts";

const pending = (n: number) => Array.from({ length: n }, () => new Commit());

describe("commits", () => {
  test("allOf settles durable once all are; failed (with the retries joined) if any failed", () => {
    const [a, b] = pending(2) as [Commit, Commit];
    const both = allOf([a, b]);
    a.settle("durable");
    expect(both.state).toBe("pending");
    b.settle("durable");
    expect(both.state).toBe("durable");
    const [c, d, retry] = pending(3) as [Commit, Commit, Commit];
    const either = allOf([c, d]);
    c.settle("failed", "disk full", retry);
    d.settle("durable");
    expect(either.state).toBe("failed");
    expect(either.retry).toBe(retry);
    expect(allOf([])).toBe(DURABLE);
  });

  test("JoinedCommits hands back one commit for the same commits in the same order, a new one otherwise", () => {
    const joined = new JoinedCommits();
    const batch = pending(501);
    const first = joined.of([...batch]);
    expect(joined.of([...batch])).toBe(first);
    const fewer = joined.of(batch.slice(1));
    expect(fewer).not.toBe(first);
    const next = pending(501);
    const second = joined.of(next);
    expect(second).not.toBe(fewer);
    for (const commit of batch) commit.settle("durable");
    expect(first.state).toBe("durable");
    expect(second.state).toBe("pending");
    for (const commit of next) commit.settle("durable");
    expect(second.state).toBe("durable");
  });

  test("a listener that throws (a bug) is logged once; the listeners after it still run and settle never throws", () => {
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      const commit = new Commit();
      const ran: string[] = [];
      commit.onSettled(() => ran.push("first"));
      commit.onSettled(() => {
        throw new Error("a bug in a listener");
      });
      commit.onSettled(() => ran.push("after the bug"));
      expect(() => commit.settle("durable")).not.toThrow();
      expect(ran).toEqual(["first", "after the bug"]);
      expect(commit.state).toBe("durable");
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error running what waited for a commit: a bug in a listener"]);
    } finally {
      logged.mockRestore();
    }
  });
});
