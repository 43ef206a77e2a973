import { describe, expect, test } from "bun:test";
import {
  MalformedReply,
  ReplyCollector,
  ReplyReader,
  checkQueueName,
  getKey,
  parseStatus,
  setRequest,
  statsFromLines,
  type Reply,
  type ReplyElement,
  type ReplyShape,
} from "../../src/client/protocol.ts";

const latin1 = (text: string) => Buffer.from(text, "latin1");

/** Elements of `bytes` fed in the pieces `cuts` gives, each value's data as text. */
function elements(bytes: Uint8Array, cuts: readonly number[]): unknown[] {
  const reader = new ReplyReader();
  const seen: unknown[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    reader.push(bytes.subarray(from, cut));
    from = cut;
    for (let element = reader.next(); element !== null; element = reader.next()) seen.push(describeElement(element));
  }
  expect(reader.buffered).toBe(0);
  return seen;
}

function describeElement(element: ReplyElement): unknown {
  return element.kind === "line" ? element.line : { key: element.key, flags: element.flags, cas: element.cas, data: Buffer.from(element.data).toString("latin1") };
}

const STREAM = latin1(
  "STORED\r\nVALUE q/open 7 5\r\nab\r\nc\r\nEND\r\nVALUE q 0 0 99\r\n\r\nEND\r\nEND\r\nUP\r\nSTAT pid 42\r\nEND\r\nSERVER_ERROR journal write failed\r\nbare\n",
);
const EXPECTED = [
  "STORED",
  { key: "q/open", flags: 7, cas: null, data: "ab\r\nc" },
  "END",
  { key: "q", flags: 0, cas: "99", data: "" },
  "END",
  "END",
  "UP",
  "STAT pid 42",
  "END",
  "SERVER_ERROR journal write failed",
  "bare",
];

describe("ReplyReader", () => {
  test("gives the same elements however the stream is split: at every byte, and at every pair of bytes", () => {
    expect(elements(STREAM, [])).toEqual(EXPECTED);
    for (let cut = 1; cut < STREAM.length; cut++) expect(elements(STREAM, [cut])).toEqual(EXPECTED);
    for (let a = 1; a < STREAM.length; a += 3) {
      for (let b = a; b < STREAM.length; b += 5) expect(elements(STREAM, [a, b])).toEqual(EXPECTED);
    }
    expect(elements(STREAM, Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1))).toEqual(EXPECTED);
  });

  test("a value in one chunk is a view of that chunk; one split over chunks stays intact while more bytes arrive", () => {
    const chunk = latin1("VALUE q 0 3\r\nabc\r\nEND\r\n");
    const reader = new ReplyReader();
    reader.push(chunk);
    const whole = reader.next() as ReplyElement & { kind: "value" };
    expect(whole.data.buffer).toBe(chunk.buffer);

    reader.next();
    reader.push(latin1("VALUE q 0 4\r\nwx"));
    reader.push(latin1("yz\r\nEND\r\nVALUE q 0 2\r\n"));
    const split = reader.next() as ReplyElement & { kind: "value" };
    reader.push(latin1("12\r\nEND\r\n".repeat(2000)));
    expect(Buffer.from(split.data).toString()).toBe("wxyz");
  });

  test("a data block not followed by CRLF, or a line past the limit, breaks the stream", () => {
    const reader = new ReplyReader();
    reader.push(latin1("VALUE q 0 3\r\nabcd\r\n"));
    expect(() => reader.next()).toThrow(MalformedReply);
    const short = new ReplyReader(16);
    short.push(latin1("SERVER_ERROR 0123456789"));
    expect(() => short.next()).toThrow(MalformedReply);
  });

  test("a VALUE header that does not parse is handed out as a plain line", () => {
    const reader = new ReplyReader();
    reader.push(latin1("VALUE q x 3\r\nVALUE q 0\r\n"));
    expect([reader.next(), reader.next()]).toEqual([
      { kind: "line", line: "VALUE q x 3" },
      { kind: "line", line: "VALUE q 0" },
    ]);
  });

  test("raw reads (lines and byte counts) interleave with elements", () => {
    const reader = new ReplyReader();
    reader.push(latin1("hello\r\nXYZSTORED\r\n"));
    expect(reader.nextLine()).toBe("hello");
    expect(reader.take(99)).toBeNull();
    expect(Buffer.from(reader.take(3)!).toString()).toBe("XYZ");
    expect(reader.next()).toEqual({ kind: "line", line: "STORED" });
    expect(reader.take(1)).toBeNull();
  });
});

/** The replies `text` holds for requests of the given shapes, in order. */
function replies(text: string, shapes: readonly ReplyShape[]): Reply[] {
  const reader = new ReplyReader();
  reader.push(latin1(text));
  const out: Reply[] = [];
  let collector = new ReplyCollector(shapes[0]!);
  for (let element = reader.next(); element !== null; element = reader.next()) {
    const reply = collector.accept(element);
    if (reply === null) continue;
    out.push(reply);
    collector = new ReplyCollector(shapes[out.length] ?? "line");
  }
  return out;
}

describe("ReplyCollector", () => {
  test("groups each request's reply by the shape it expects", () => {
    const got = replies("STORED\r\nVALUE a 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\nEND\r\nSTAT a 1\r\nSTAT b two words\r\nEND\r\nREADONLY\r\n", ["line", "values", "values", "lines", "line"]);
    expect(got.map((reply) => reply.kind)).toEqual(["line", "values", "values", "lines", "line"]);
    const [, values, empty, stats] = got;
    expect(values?.kind === "values" && values.values.map((value) => value.key)).toEqual(["a", "b"]);
    expect(empty).toEqual({ kind: "values", values: [] });
    expect(stats?.kind === "lines" && statsFromLines(stats.lines)).toEqual(new Map([["a", "1"], ["b", "two words"]]));
  });

  test("an error line ends any reply", () => {
    expect(replies("SERVER_ERROR no\r\nCLIENT_ERROR bad\r\nERROR\r\n", ["values", "lines", "line"])).toEqual([
      { kind: "error", line: "SERVER_ERROR no" },
      { kind: "error", line: "CLIENT_ERROR bad" },
      { kind: "error", line: "ERROR" },
    ]);
  });

  test("an element that cannot belong to the reply is malformed", () => {
    expect(() => replies("VALUE a 0 1\r\nx\r\nEND\r\n", ["line"])).toThrow(MalformedReply);
    expect(() => replies("STORED\r\n", ["values"])).toThrow(MalformedReply);
  });
});

describe("requests", () => {
  test("set carries its length, exptime and data block", () => {
    expect(Buffer.from(setRequest("q", latin1("a\r\nb"), 60)).toString("latin1")).toBe("set q 0 60 4\r\na\r\nb\r\n");
  });

  test("get options are written in the order the server's close/open pattern reads", () => {
    expect(getKey("q", { close: true, open: true, waitMs: 99.2 })).toBe("q/close/open/t=100");
    expect(getKey("q", { abort: true })).toBe("q/abort");
    expect(getKey("q", { waitMs: 0 })).toBe("q");
  });

  test("status lines, in any case; anything else is not a status", () => {
    expect(["UP", "READONLY", "quiescent", "WriteAvoid"].map(parseStatus)).toEqual(["up", "readonly", "quiescent", "writeavoid"]);
    expect(parseStatus("ERROR")).toBeNull();
  });

  test("queue names that would break the request line are refused before anything is sent", () => {
    for (const name of ["", "a b", "a/open", "a\r\nflush_all", "x".repeat(251)]) expect(() => checkQueueName(name)).toThrow(TypeError);
    expect(() => checkQueueName("jobs+audit")).not.toThrow();
  });
});
