import { describe, expect, test } from "bun:test";
import { knownCrc } from "../../../src/data_crc.ts";
import { RequestParser, type Frame } from "../../../src/server/memcache/request_parser.ts";
import { OPCODE_GET, binaryRequest } from "../../helpers/binary_request.ts";
import { bytes, concat, seededRandom, text } from "../../helpers/bytes.ts";

const parser = () => new RequestParser(100, 1000);

function framesOf(p: RequestParser): Frame[] {
  const frames: Frame[] = [];
  for (let frame = p.next(); frame !== null; frame = p.next()) frames.push(frame);
  return frames;
}

/** Frames with item data turned into text, for comparison. */
const plain = (frames: Frame[]): unknown[] => frames.map((f) => (f.kind === "set" ? { ...f, data: text(f.data) } : f));

const PIPELINE = bytes(
  "set jobs 0 0 5\r\nhello\r\nGET jobs/open/t=10\r\nset bin 7 100 4 noreply\r\n\r\n\x00\xff\r\nstats\r\nset e 0 0 0\r\n\r\n",
);
const EXPECTED: unknown[] = [
  { kind: "set", key: "jobs", flags: 0, exptime: 0, data: "hello", noreply: false },
  { kind: "line", command: "get", args: ["jobs/open/t=10"] },
  { kind: "set", key: "bin", flags: 7, exptime: 100, data: "\r\n\x00\xff", noreply: true },
  { kind: "line", command: "stats", args: [] },
  { kind: "set", key: "e", flags: 0, exptime: 0, data: "", noreply: false },
];

describe("RequestParser", () => {
  test("parses pipelined requests with binary data blocks", () => {
    const p = parser();
    p.push(PIPELINE);
    expect(plain(framesOf(p))).toEqual(EXPECTED);
    expect(p.bufferedBytes).toBe(0);
  });

  test("nextLineLongerThan looks at the next complete command line without consuming it", () => {
    const p = parser();
    p.push(bytes(`get ${"k ".repeat(20)}\r\nset q 0 0 300\r\n`));
    expect(p.nextLineLongerThan(40)).toBe(true);
    expect(p.nextLineLongerThan(100)).toBe(false);
    expect(p.next()).toMatchObject({ kind: "line", command: "get" });
    expect(p.nextLineLongerThan(10)).toBe(true); // the set header
    expect(p.next()).toBeNull(); // its data block hasn't arrived
    expect(p.nextLineLongerThan(0)).toBe(false); // a data block is no command line
    p.push(bytes(`${"x".repeat(300)}\r\nget q`));
    expect(p.next()).toMatchObject({ kind: "set", key: "q" });
    expect(p.nextLineLongerThan(0)).toBe(false); // not complete yet
  });

  test("gives the same frames however the stream is split", () => {
    for (let cut = 0; cut <= PIPELINE.length; cut++) {
      const p = parser();
      const frames: Frame[] = [];
      p.push(PIPELINE.subarray(0, cut));
      frames.push(...framesOf(p));
      p.push(PIPELINE.subarray(cut));
      frames.push(...framesOf(p));
      expect(plain(frames)).toEqual(EXPECTED);
    }
    const random = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const p = parser();
      const frames: Frame[] = [];
      for (let at = 0; at < PIPELINE.length; ) {
        const size = 1 + Math.floor(random() * 6);
        p.push(PIPELINE.subarray(at, at + size));
        frames.push(...framesOf(p));
        at += size;
      }
      expect(plain(frames)).toEqual(EXPECTED);
    }
  });

  test("accepts bare \\n line endings and collapses repeated spaces", () => {
    const p = parser();
    p.push(bytes("get   a  \nversion\n"));
    expect(framesOf(p)).toEqual([
      { kind: "line", command: "get", args: ["a"] },
      { kind: "line", command: "version", args: [] },
    ]);
  });

  test("a data block within one chunk is a view of it; one spanning chunks is a copy", () => {
    const chunk = concat(bytes("set a 0 0 3\r\nabc\r\n"), new Uint8Array(4000).fill(32));
    const p = new RequestParser(100, 1 << 20);
    p.push(chunk);
    const frame = p.next();
    if (frame?.kind !== "set") throw new Error("expected a set");
    expect(frame.data.buffer).toBe(chunk.buffer);
    const q = new RequestParser(100, 1 << 20);
    q.push(bytes("set b 0 0 6\r\nab"));
    q.push(bytes("cdef\r\n"));
    const spanning = q.next();
    if (spanning?.kind !== "set") throw new Error("expected a set");
    expect(text(spanning.data)).toBe("abcdef");
    expect(spanning.data.buffer.byteLength).toBe(6);
  });

  test("a big block is left alone until all of it is here, then copied in 1 MiB a call (busy), its CRC worked out", () => {
    const data = new Uint8Array(3 << 20).map((_, i) => (i >> 10) % 256);
    const p = new RequestParser(100, 4 << 20);
    p.push(bytes(`set big 0 0 ${data.length}\r\n`));
    p.push(data.subarray(0, 2 << 20));
    expect(p.next()).toBeNull();
    expect(p.busy).toBe(false); // half here: nothing to do until more comes
    p.push(concat(data.subarray(2 << 20), bytes("\r\nstats\r\n")));
    const steps: boolean[] = [];
    let frame = p.next();
    while (frame === null) {
      steps.push(p.busy);
      frame = p.next();
    }
    expect(steps).toEqual([true, true]);
    if (frame.kind !== "set") throw new Error("expected a set");
    expect(frame.data).toEqual(data);
    expect(knownCrc(frame.data)).toBe(Bun.hash.crc32(data));
    expect(p.next()).toEqual({ kind: "line", command: "stats", args: [] });
    expect(p.busy).toBe(false);
  });

  test("a chunk copied whole into a data block is given back at once; one a frame may see is not", () => {
    const p = new RequestParser(100, 4 << 20);
    const head = bytes(`set a 0 0 3\r\nabc\r\nset big 0 0 ${200_000}\r\n`);
    const pieces = [new Uint8Array(100_000).fill(1), new Uint8Array(100_000).fill(2)];
    p.push(head);
    const small = p.next();
    if (small?.kind !== "set") throw new Error("expected a set");
    p.push(pieces[0]!);
    expect(p.next()).toBeNull();
    p.push(pieces[1]!);
    p.push(bytes("\r\n"));
    const big = p.next();
    if (big?.kind !== "set") throw new Error("expected a set");
    expect(pieces.map((piece) => piece.buffer.byteLength)).toEqual([0, 0]);
    expect(big.data.subarray(99_999, 100_001)).toEqual(new Uint8Array([1, 2]));
    // The chunk holding the small set's bytes (a view into it) is kept.
    expect(text(small.data)).toBe("abc");
  });

  test("discard gives back the memory of chunks no frame has seen, and keeps the data of frames returned", () => {
    const p = new RequestParser(100, 1 << 20);
    const first = bytes("set a 0 0 5\r\nhello\r\nset b 0 0 100000\r\nxy");
    const second = bytes("z".repeat(50_000));
    p.push(first);
    p.push(second);
    const frame = p.next();
    if (frame?.kind !== "set") throw new Error("expected a set");
    expect(p.next()).toBe(null);
    p.discard();
    expect(p.bufferedBytes).toBe(0);
    expect(p.announcedBytes).toBe(0);
    expect(second.buffer.byteLength).toBe(0);
    expect(text(frame.data)).toBe("hello");
    // A chunk that is a view into a bigger buffer is left to the collector.
    const q = new RequestParser(100, 1 << 20);
    const shared = new Uint8Array(64);
    q.push(shared.subarray(8, 16));
    q.discard();
    expect(shared.buffer.byteLength).toBe(64);
  });

  test("discard leaves small chunks to the collector: a slowloris line's thousands of one-byte chunks cost nothing to drop", () => {
    const p = new RequestParser(8192, 1 << 20);
    const line = bytes(`get ${"s ".repeat(3000)}`);
    const trickle = Array.from({ length: 20 }, () => bytes("s"));
    p.push(line);
    for (const chunk of trickle) p.push(chunk);
    expect(p.next()).toBeNull();
    p.discard();
    expect(p.bufferedBytes).toBe(0);
    expect(line.buffer.byteLength).toBe(line.length);
    expect(trickle.every((chunk) => chunk.buffer.byteLength === 1)).toBe(true);
  });

  test("a stream whose first byte is 0x80 is the binary protocol: its first header, however split, then nothing", () => {
    const stream = concat(binaryRequest(OPCODE_GET, "jobs", 0x01020304), bytes("get q\r\nversion\r\n"));
    for (let cut = 1; cut < stream.length; cut++) {
      const p = parser();
      p.push(stream.subarray(0, cut));
      const early = framesOf(p);
      p.push(stream.subarray(cut));
      const frames = [...early, ...framesOf(p)];
      expect(early).toEqual(cut < 24 ? [] : frames);
      expect(frames).toEqual([{ kind: "binary", header: stream.slice(0, 24) }]);
    }
  });

  test("0x80 anywhere but first is a byte like any other", () => {
    const p = parser();
    p.push(bytes("get q\r\n\x80\x00\r\n"));
    expect(framesOf(p)).toEqual([
      { kind: "line", command: "get", args: ["q"] },
      { kind: "line", command: "\x80\x00", args: [] },
    ]);
  });

  test("a data block not followed by \\r\\n is fatal", () => {
    const p = parser();
    p.push(bytes("set a 0 0 3\r\nabcd\r\nget a\r\n"));
    expect(framesOf(p)).toEqual([{ kind: "fatal", reply: "CLIENT_ERROR bad data chunk" }]);
    p.push(bytes("get a\r\n"));
    expect(p.next()).toBeNull();
  });

  test("a bad length is fatal; a too-large set is refused without reading its data", () => {
    for (const line of ["set a 0 0\r\n", "set a 0 0 -1\r\n", "set a 0 0 abc\r\n", "set\r\n"]) {
      const p = parser();
      p.push(bytes(line));
      expect(framesOf(p)).toEqual([{ kind: "fatal", reply: "CLIENT_ERROR bad command line format" }]);
    }
    const p = parser();
    p.push(bytes("set a 0 0 1001\r\n"));
    expect(framesOf(p)).toEqual([{ kind: "fatal", reply: "SERVER_ERROR object too large" }]);
  });

  test("lines longer than the limit are fatal, with or without a newline", () => {
    const p = parser();
    p.push(bytes("x".repeat(101)));
    expect(framesOf(p)).toEqual([{ kind: "fatal", reply: "CLIENT_ERROR line too long" }]);
    const q = parser();
    q.push(bytes(`get ${"x".repeat(120)}\r\n`));
    expect(framesOf(q)).toEqual([{ kind: "fatal", reply: "CLIENT_ERROR line too long" }]);
  });

  test("bad flags or exptime skip the data block and keep the stream in step", () => {
    const p = parser();
    p.push(bytes("set a x 0 2\r\nhi\r\nset a 0 1x 2 noreply\r\nhi\r\nset a 4294967296 0 2\r\nhi\r\nset a -1 0 2\r\nhi\r\nversion\r\n"));
    expect(framesOf(p)).toEqual([
      { kind: "bad-request", reply: "CLIENT_ERROR bad command line format", noreply: false },
      { kind: "bad-request", reply: "CLIENT_ERROR bad command line format", noreply: true },
      { kind: "bad-request", reply: "CLIENT_ERROR bad command line format", noreply: false },
      { kind: "bad-request", reply: "CLIENT_ERROR bad command line format", noreply: false },
      { kind: "line", command: "version", args: [] },
    ]);
  });

  test("flags are a 32-bit unsigned number, kept with the set", () => {
    const p = parser();
    p.push(bytes("set a 4294967295 0 2\r\nhi\r\nset b 00042 0 2\r\nho\r\n"));
    expect(plain(framesOf(p))).toEqual([
      { kind: "set", key: "a", flags: 4294967295, exptime: 0, data: "hi", noreply: false },
      { kind: "set", key: "b", flags: 42, exptime: 0, data: "ho", noreply: false },
    ]);
  });

  test("tokens after <bytes> are ignored but a last noreply, as memcached (1.6.40 on) does", () => {
    const p = parser();
    p.push(bytes("set a 0 0 2 extra noreply\r\nhi\r\nset b 0 0 2 x y\r\nho\r\nset c 0 0 2 noreply extra\r\nhu\r\n"));
    expect(plain(framesOf(p))).toEqual([
      { kind: "set", key: "a", flags: 0, exptime: 0, data: "hi", noreply: true },
      { kind: "set", key: "b", flags: 0, exptime: 0, data: "ho", noreply: false },
      { kind: "set", key: "c", flags: 0, exptime: 0, data: "hu", noreply: false },
    ]);
  });

  test("tokens are separated by any mix of spaces and tabs", () => {
    const p = parser();
    p.push(bytes("set\tjobs\t0 \t0\t\t5\t noreply\t\r\nhello\r\n\tget\tjobs/peek \t other\r\n"));
    expect(plain(framesOf(p))).toEqual([
      { kind: "set", key: "jobs", flags: 0, exptime: 0, data: "hello", noreply: true },
      { kind: "line", command: "get", args: ["jobs/peek", "other"] },
    ]);
  });

  test("a storage command glued to its key by another byte closes the connection: its data is never run", () => {
    for (const header of ["set\x00q 0 0 8", "SET\vq\v0\v0\v8", "set,q,0,0,8", "add:q 0 0 8", "set\x7f"]) {
      const p = parser();
      p.push(bytes(`${header}\r\nshutdown\r\n`));
      expect(framesOf(p)).toEqual([{ kind: "fatal", reply: "CLIENT_ERROR bad command line format" }]);
    }
    const p = parser();
    p.push(bytes("settings\r\nset_x 1\r\n"));
    expect(framesOf(p)).toEqual([
      { kind: "line", command: "settings", args: [] },
      { kind: "line", command: "set_x", args: ["1"] },
    ]);
  });

  test("other storage commands have their data skipped, so data is never run as a command", () => {
    const p = parser();
    p.push(bytes("add q 0 0 11\r\nflush_all\r\n\r\ncas q 0 0 8 99 noreply\r\nshutdown\r\n"));
    expect(framesOf(p)).toEqual([
      { kind: "unsupported-storage", command: "add", noreply: false },
      { kind: "unsupported-storage", command: "cas", noreply: true },
    ]);
  });

  test("random garbage never throws and never yields a set that wasn't sent", () => {
    const random = seededRandom(99);
    for (let round = 0; round < 300; round++) {
      const p = parser();
      const junk = new Uint8Array(1 + Math.floor(random() * 400)).map(() => Math.floor(random() * 256));
      p.push(junk);
      for (const frame of framesOf(p)) expect(frame.kind).not.toBe("set");
    }
  });
});

test("parsers of many connections, their lines interleaved, each frame only their own (the line's tokens are shared)", () => {
  const a = parser();
  const b = parser();
  a.push(bytes("set qa 1 0 2\r\nxx\r\nget a1 a2 a3 a4 a5\r\n"));
  b.push(bytes("get b1\r\nset qb 7 0 1\r\ny\r\n"));
  expect(plain([a.next()!, b.next()!, b.next()!, a.next()!])).toEqual([
    { kind: "set", key: "qa", flags: 1, exptime: 0, data: "xx", noreply: false },
    { kind: "line", command: "get", args: ["b1"] },
    { kind: "set", key: "qb", flags: 7, exptime: 0, data: "y", noreply: false },
    { kind: "line", command: "get", args: ["a1", "a2", "a3", "a4", "a5"] },
  ]);
});
