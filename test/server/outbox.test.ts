import { describe, expect, test } from "bun:test";
import { Commit } from "../../src/journal/commit.ts";
import { FLUSH_BYTES, Handover, Outbox, PIECE_OVERHEAD } from "../../src/server/outbox.ts";
import { bytes, concat, seededRandom, text } from "../helpers/bytes.ts";

/** A socket that takes at most `room` bytes per write, like a full kernel buffer. */
class SlowSink {
  received: Uint8Array[] = [];
  writes = 0;
  room = Infinity;
  write(data: Uint8Array, offset = 0, length = data.length - offset): number {
    this.writes++;
    const n = Math.min(length, this.room);
    this.received.push(new Uint8Array(data.subarray(offset, offset + n)));
    return n;
  }
  get all(): string {
    return text(concat(...this.received));
  }
}

describe("Outbox", () => {
  test("small replies of one turn go out in one write", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    for (let i = 0; i < 100; i++) out.push(i % 2 === 0 ? "STORED\r\n" : bytes("STORED\r\n"));
    out.flush();
    expect(sink.writes).toBe(1);
    expect(sink.all).toBe("STORED\r\n".repeat(100));
  });

  test("deferred replies hold their place; later replies wait behind them", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    out.push(bytes("1 "));
    const second = out.defer();
    out.push(bytes("3 "));
    const fourth = out.defer();
    out.flush();
    expect(sink.all).toBe("1 ");
    out.resolve(fourth, [bytes("4 ")]);
    out.flush();
    expect(sink.all).toBe("1 ");
    out.resolve(second, [bytes("2 ")]);
    out.flush();
    expect(sink.all).toBe("1 2 3 4 ");
    expect(out.idle).toBe(true);
  });

  test("a failed command's reply takes the place it reserved, or goes last if it reserved none", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    out.startReply();
    out.pushAfter(commit, [bytes("1 ")], null);
    out.startReply();
    out.defer();
    expect(out.fail("2 ")).toBe(true);
    commit.settle("durable");
    out.flush();
    expect(sink.all).toBe("1 2 ");
    out.startReply();
    expect(out.fail("3 ")).toBe(true);
    out.flush();
    expect(sink.all).toBe("1 2 3 ");
    expect(out.idle).toBe(true);
  });

  test("a failed command whose request asked for no reply: its reserved place closes empty, and nothing else is sent", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    out.startReply();
    out.defer();
    out.startReply();
    out.push("VERSION ");
    expect(out.fail(null)).toBe(false);
    out.flush();
    expect(sink.all).toBe("VERSION ");
    out.startReply();
    expect(out.fail(null)).toBe(false);
    out.flush();
    expect(sink.all).toBe("VERSION ");
    expect(out.idle).toBe(true);
  });

  test("a failed command that had placed its whole reply gets nothing more: one reply per request", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    out.startReply();
    out.pushAfter(commit, [bytes("STORED ")], null);
    expect(out.replyPlaced).toBe("whole");
    expect(out.fail("ERROR ")).toBe(false);
    out.startReply();
    const place = out.defer();
    out.resolve(place, ["VALUE END "]);
    expect(out.fail("ERROR ")).toBe(false);
    out.startReply();
    out.push("VERSION ");
    commit.settle("durable");
    out.flush();
    expect(sink.all).toBe("STORED VALUE END VERSION ");
  });

  test("a failed command that had placed part of its reply: the parts stay, the error ends the reply", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    out.startReply();
    out.pushPart("STAT a ");
    out.flush();
    out.pushPartAfter(commit, ["STAT b "], null);
    expect(out.replyPlaced).toBe("part");
    const placements = out.placements;
    expect(out.fail("ERROR ")).toBe(true);
    expect(out.placements).toBe(placements + 1);
    out.startReply();
    out.push("VERSION ");
    commit.settle("durable");
    out.flush();
    expect(sink.all).toBe("STAT a STAT b ERROR VERSION ");
  });

  test("under backpressure every byte arrives once and in order", () => {
    const random = seededRandom(3);
    const sink = new SlowSink();
    const out = new Outbox(sink);
    let expected = "";
    for (let i = 0; i < 500; i++) {
      const piece = `reply-${i}-${"x".repeat(Math.floor(random() * 100_000 * (i % 17 === 0 ? 1 : 0.001)))}|`;
      expected += piece;
      out.push(bytes(piece));
      sink.room = Math.floor(random() * 5000);
      out.flush();
      while (random() < 0.5) {
        sink.room = Math.floor(random() * 70_000);
        out.drained();
      }
    }
    sink.room = Infinity;
    out.drained();
    expect(sink.all).toBe(expected);
    expect(out.backlog).toBe(0);
    expect(out.bytesWritten).toBe(expected.length);
  });

  test("a handover's `delivered` runs once every byte before it went to the socket, not while they wait; a throwing one is logged and the rest go on", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const delivered: string[] = [];
    sink.room = 3;
    out.push("VALUE q 0 1\r\na\r\nEND\r\n", new Handover(() => {}, () => delivered.push("first")));
    out.push(new Handover(() => {}, () => {
      throw new Error("a bug");
    }));
    out.push("END\r\n", new Handover(() => {}, () => delivered.push("third")));
    out.flush();
    expect(delivered).toEqual([]);
    sink.room = Infinity;
    out.drained();
    expect(delivered).toEqual(["first", "third"]);
    expect(sink.all).toBe("VALUE q 0 1\r\na\r\nEND\r\nEND\r\n");
    out.flush();
    expect(delivered).toEqual(["first", "third"]);
    expect(out.undelivered()).toEqual([]);
  });

  test("a closed socket drops the backlog instead of growing it", () => {
    const out = new Outbox({ write: () => -1 });
    out.push(bytes("lost"));
    out.flush();
    expect(out.backlog).toBe(0);
  });
});

describe("Outbox and failed commits", () => {
  const failedReply = { reply: (error: string) => [`SERVER_ERROR ${error}\r\n`] };

  test("replies merged while waiting for one commit each get their own error if it fails", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    for (let i = 0; i < 5; i++) out.pushAfter(commit, ["STORED\r\n"], failedReply);
    out.push("VERSION 1\r\n");
    commit.settle("failed", "disk full");
    out.flush();
    expect(sink.all).toBe(`${"SERVER_ERROR disk full\r\n".repeat(5)}VERSION 1\r\n`);
  });

  test("a reply whose commit failed waits for the retry: sent as it is once the retry is durable", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    const retry = new Commit();
    out.pushAfter(commit, ["STORED\r\n"], failedReply);
    out.push("VERSION 1\r\n");
    commit.settle("failed", "disk full", retry);
    out.flush();
    expect(sink.all).toBe("");
    // A reply pushed after the failure waits for the retry too, behind the first.
    out.pushAfter(commit, ["STORED\r\n"], failedReply);
    retry.settle("durable");
    out.flush();
    expect(sink.all).toBe("STORED\r\nVERSION 1\r\nSTORED\r\n");
    expect(out.idle).toBe(true);
  });

  test("a reply whose retry fails too, with no retry after it, gets the error", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    const retry = new Commit();
    out.pushAfter(commit, ["STORED\r\n"], failedReply);
    commit.settle("failed", "disk full", retry);
    retry.settle("failed", "journal closed");
    out.flush();
    expect(sink.all).toBe("SERVER_ERROR journal closed\r\n");
  });

  test("a reply sent whatever happens (no OnFailure) waits for the retry too", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    const retry = new Commit();
    out.pushAfter(commit, ["VALUE q 0 1\r\n"], null);
    commit.settle("failed", "disk full", retry);
    out.flush();
    expect(sink.all).toBe("");
    retry.settle("failed", "journal closed");
    out.flush();
    expect(sink.all).toBe("VALUE q 0 1\r\n");
  });
});

describe("Outbox backlog", () => {
  test("replies waiting for a commit count toward the backlog until they leave, each piece its bytes and PIECE_OVERHEAD", () => {
    const sink = new SlowSink();
    const out = new Outbox(sink);
    const commit = new Commit();
    out.pushAfter(commit, ["VALUE q 0 5\r\n", bytes("hello"), "\r\nEND\r\n"], null);
    for (let i = 0; i < 100; i++) out.push("SERVER_ERROR journal write failed\r\n");
    expect(out.backlog).toBe("VALUE q 0 5\r\nhello\r\nEND\r\n".length + 100 * "SERVER_ERROR journal write failed\r\n".length + 103 * PIECE_OVERHEAD);
    commit.settle("durable");
    out.flush();
    expect(out.backlog).toBe(0);
    expect(sink.all).toStartWith("VALUE q 0 5\r\nhello\r\nEND\r\n");
  });

  test("a flush stops after FLUSH_BYTES while more than that is left, but a reply's short end goes with it", () => {
    const sink = { written: 0, write: (data: Uint8Array, offset = 0, length = data.length - offset) => ((sink.written += length), length) };
    const out = new Outbox(sink);
    out.push("VALUE q 0 65536\r\n", new Uint8Array(65536), "\r\nEND\r\n");
    expect(out.flush()).toBe(false);
    expect(out.idle).toBe(true);
    for (let i = 0; i < 40_000; i++) out.push("END\r\n");
    expect(out.flush()).toBe(true);
    expect(sink.written).toBeLessThan(17 + 65536 + 7 + 2 * FLUSH_BYTES);
    while (out.flush());
    expect(sink.written).toBe(17 + 65536 + 7 + 200_000);
  });

  test("ready replies count their bytes and PIECE_OVERHEAD each; those packed for a refused write become one piece", () => {
    const out = new Outbox({ write: () => 0 });
    for (let i = 0; i < 1000; i++) out.push("END\r\n");
    expect(out.backlog).toBe(1000 * (5 + PIECE_OVERHEAD));
    out.flush();
    expect(out.backlog).toBe(5000 + PIECE_OVERHEAD);
  });
});
