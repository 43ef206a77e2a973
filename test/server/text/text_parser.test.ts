import { describe, expect, test } from "bun:test";
import { knownCrc } from "../../../src/data_crc.ts";
import { ASSEMBLE_SLICE } from "../../../src/server/assembly.ts";
import { MAX_BLOCK_ITEMS, TextParser, splitWords, type TextFrame } from "../../../src/server/text/text_parser.ts";
import { bytes, concat, seededRandom, text } from "../../helpers/bytes.ts";

const parser = () => new TextParser(100, 1000);

function framesOf(p: TextParser): TextFrame[] {
  const frames: TextFrame[] = [];
  for (let frame = p.next(); frame !== null; frame = p.next()) frames.push(frame);
  return frames;
}

/** Frames with items turned into text, for comparison. */
const plain = (frames: TextFrame[]): unknown[] => frames.map((f) => (f.kind === "request" ? { ...f, items: f.items.map(text) } : f));

const request = (command: string, args: string[], items: string[] = []) => ({ kind: "request", command, args, items });

const PIPELINE = bytes("get foo\r\nPUT jobs 500:\nhello\r\n\x00\xff\x80 x\r y\n\r\nPEEK jobs 10\nput e:\n\nQUIT\r\n");
const EXPECTED: unknown[] = [
  request("get", ["foo"]),
  request("put", ["jobs", "500"], ["hello", "\x00\xff\x80 x\r y"]),
  request("peek", ["jobs", "10"]),
  request("put", ["e"]),
  request("quit", []),
];

describe("TextParser", () => {
  test("frames pipelined requests; items keep their bytes, the CR before a LF is dropped", () => {
    const p = parser();
    p.push(PIPELINE);
    expect(plain(framesOf(p))).toEqual(EXPECTED);
    expect(p.bufferedBytes).toBe(0);
  });

  test("gives the same frames however the stream is split", () => {
    for (let cut = 0; cut <= PIPELINE.length; cut++) {
      const p = parser();
      const frames: TextFrame[] = [];
      p.push(PIPELINE.subarray(0, cut));
      frames.push(...framesOf(p));
      p.push(PIPELINE.subarray(cut));
      frames.push(...framesOf(p));
      expect(plain(frames)).toEqual(EXPECTED);
    }
  });

  test("gives the same frames when fed in random small pieces", () => {
    const random = seededRandom(12);
    for (let round = 0; round < 50; round++) {
      const p = parser();
      const frames: TextFrame[] = [];
      for (let at = 0; at < PIPELINE.length; ) {
        const size = 1 + Math.floor(random() * 7);
        p.push(PIPELINE.slice(at, at + size));
        frames.push(...framesOf(p));
        at += size;
      }
      expect(plain(frames)).toEqual(EXPECTED);
    }
  });

  test("as Kestrel's codec spec: a request arrives only with its newline", () => {
    const p = parser();
    p.push(bytes("get f"));
    expect(p.next()).toBeNull();
    p.push(bytes("oo\r\n"));
    expect(plain(framesOf(p))).toEqual([request("get", ["foo"])]);
    p.push(bytes("get foo 100"));
    expect(p.next()).toBeNull();
    p.push(bytes("\n"));
    expect(plain(framesOf(p))).toEqual([request("get", ["foo", "100"])]);
    p.push(bytes("put foo:\n"));
    expect(p.next()).toBeNull();
    p.push(bytes("hello\n"));
    expect(p.next()).toBeNull();
    p.push(bytes("\n"));
    expect(plain(framesOf(p))).toEqual([request("put", ["foo"], ["hello"])]);
  });

  test("words are split on single spaces as Java's split(\" \") does", () => {
    expect(splitWords("get foo")).toEqual(["get", "foo"]);
    expect(splitWords("get  foo")).toEqual(["get", "", "foo"]);
    expect(splitWords("get foo  ")).toEqual(["get", "foo"]);
    expect(splitWords(" get")).toEqual(["", "get"]);
    expect(splitWords("get\tfoo")).toEqual(["get\tfoo"]);
    expect(splitWords("")).toEqual([]);
    const p = parser();
    p.push(bytes("\n   \r\nget  foo 10\nput q :\nx\n\n"));
    expect(plain(framesOf(p))).toEqual([request("", []), request("", []), request("get", ["", "foo", "10"]), request("put", ["q"], ["x"])]);
  });

  test("any line ending in ':' opens a data block, whatever its command", () => {
    const p = parser();
    p.push(bytes("get a:\nstray\n\nget a:b\n"));
    expect(plain(framesOf(p))).toEqual([request("get", ["a"], ["stray"]), request("get", ["a:b"])]);
  });

  test("a command line of maxLineLength bytes is read; a longer one is fatal, even before its newline", () => {
    const p = parser();
    p.push(bytes(`get ${"q".repeat(96)}\r\n`));
    expect(p.next()).toMatchObject({ kind: "request", command: "get" });
    p.push(bytes(`get ${"q".repeat(97)}\n`));
    expect(p.next()).toEqual({ kind: "fatal", reply: "-Line too long; limit=100\n" });
    expect(p.next()).toBeNull();
    expect(p.bufferedBytes).toBe(0);

    const q = parser();
    q.push(bytes("x".repeat(60)));
    expect(q.next()).toBeNull();
    q.push(bytes("x".repeat(60)));
    expect(q.next()).toMatchObject({ kind: "fatal" });
  });

  test("the items of one block may hold maxRequestSize bytes in all; more is fatal", () => {
    const p = parser();
    p.push(bytes(`put q:\n${"a".repeat(600)}\n${"b".repeat(400)}\r\n\n`));
    const [frame] = framesOf(p);
    expect(frame).toMatchObject({ kind: "request", command: "put" });
    expect(frame?.kind === "request" && frame.items.map((item) => item.length)).toEqual([600, 400]);

    const q = parser();
    q.push(bytes(`put q:\n${"a".repeat(600)}\n${"b".repeat(300)}`));
    expect(q.next()).toBeNull();
    expect(q.bufferedBytes).toBe(900);
    q.push(bytes("b".repeat(200)));
    expect(q.next()).toEqual({ kind: "fatal", reply: "-Items too large; limit=1000 bytes\n" });
  });

  test(`${MAX_BLOCK_ITEMS} items make a request; one more refuses the block whole, read to its end, and the stream goes on`, () => {
    const p = new TextParser(100, 1_000_000);
    p.push(bytes(`put q:\n${"i\n".repeat(MAX_BLOCK_ITEMS)}\n`));
    const [full] = framesOf(p);
    expect(full?.kind === "request" && full.items.length).toBe(MAX_BLOCK_ITEMS);

    p.push(bytes(`put q:\n${"i\n".repeat(MAX_BLOCK_ITEMS + 1)}${"more\n".repeat(10)}\nget q\n`));
    expect(plain(framesOf(p))).toEqual([{ kind: "refused", reply: `-Too many items; limit=${MAX_BLOCK_ITEMS}\n` }, request("get", ["q"])]);
    expect(p.bufferedBytes).toBe(0);
  });

  test("bufferedBytes counts the unread bytes, the partial line and the items of an open block", () => {
    const p = parser();
    p.push(bytes("put q:\nabc\nde"));
    expect(p.next()).toBeNull();
    expect(p.bufferedBytes).toBe(5);
    p.push(bytes("f\n\nget q\nget"));
    expect(p.next()).toMatchObject({ kind: "request", command: "put" });
    expect(p.bufferedBytes).toBe(9);
    expect(p.next()).toMatchObject({ kind: "request", command: "get" });
    expect(p.next()).toBeNull();
    expect(p.bufferedBytes).toBe(3);
  });

  test("nextLineLongerThan looks at the next complete command line without consuming it", () => {
    const p = parser();
    p.push(bytes("get q 1"));
    expect(p.nextLineLongerThan(0)).toBe(false); // not complete yet
    p.push(bytes("0\nput q:\n"));
    expect(p.nextLineLongerThan(7)).toBe(true);
    expect(p.nextLineLongerThan(8)).toBe(false);
    expect(p.next()).toMatchObject({ kind: "request", command: "get", args: ["q", "10"] });
    expect(p.next()).toBeNull(); // the block is open
    p.push(bytes("a long item line\n"));
    expect(p.nextLineLongerThan(0)).toBe(false); // item lines are no command lines
  });

  test("discard drops everything and gives back chunks nothing was read from", () => {
    const p = parser();
    const read = new Uint8Array(bytes("get q\nput q:\nitem\n"));
    const untouched = new Uint8Array(bytes("more".repeat(5000)));
    p.push(read);
    expect(p.next()).toMatchObject({ command: "get" });
    expect(p.next()).toBeNull();
    p.push(untouched);
    p.discard();
    expect(p.bufferedBytes).toBe(0);
    expect(read.buffer.byteLength).toBe(read.length); // a frame may hold a view into it
    expect(untouched.buffer.byteLength).toBe(0);
    expect(p.next()).toBeNull();
  });

  test("a long item line that spans chunks is copied into place a slice per call, busy meanwhile, its CRC known and its chunks given back", () => {
    const p = new TextParser(100, 8 * 1024 * 1024);
    const line = new Uint8Array(3 * ASSEMBLE_SLICE + 1000).map((_, i) => 32 + (i % 95));
    const stream = concat(bytes("put big:\nsmall\n"), line, bytes("\r\n\nversion\n"));
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < stream.length; at += 64 * 1024) chunks.push(stream.slice(at, at + 64 * 1024));
    for (const chunk of chunks.slice(0, -1)) {
      p.push(chunk);
      expect([p.next(), p.busy]).toEqual([null, false]); // nothing to copy before the newline is here
    }
    p.push(chunks[chunks.length - 1]!);
    let calls = 1;
    let frame = p.next();
    for (; frame === null; frame = p.next()) {
      expect(p.busy).toBe(true);
      expect(p.bufferedBytes).toBeGreaterThan(line.length);
      calls++;
    }
    expect(calls).toBe(4);
    expect(p.busy).toBe(false);
    const items = frame.kind === "request" ? frame.items : [];
    expect(items.map((item) => item.length)).toEqual([5, line.length]);
    expect(Buffer.compare(items[1]!, line)).toBe(0);
    expect(knownCrc(items[1]!)).toBe(Bun.hash.crc32(line));
    expect(plain([p.next()!])).toEqual([request("version", [])]);
    expect(p.bufferedBytes).toBe(0);
    // The chunks holding only the long line (neither the first nor the last) were given back.
    expect(chunks.slice(1, -1).every((chunk) => chunk.buffer.byteLength === 0)).toBe(true);
  });

  test("a long line copied into place keeps its limit: past maxRequestSize it is fatal", () => {
    const p = new TextParser(100, 2 * ASSEMBLE_SLICE);
    p.push(bytes("put big:\n"));
    p.push(new Uint8Array(ASSEMBLE_SLICE).fill(65));
    p.push(new Uint8Array(ASSEMBLE_SLICE).fill(66));
    expect(p.next()).toBeNull();
    p.push(bytes("x\n\n"));
    expect(p.next()).toEqual({ kind: "fatal", reply: `-Items too large; limit=${2 * ASSEMBLE_SLICE} bytes\n` });
  });
});

describe("TextParser on junk", () => {
  test("never throws, holds at most one line or block, and stops at a fatal frame", () => {
    const random = seededRandom(7);
    const pieces = ["put q:\n", "get q 10\n", "\n", "\r\n", ":", " ", "x", "\xff", "\x00", "monitor q 1\n", "y".repeat(150)];
    for (let round = 0; round < 300; round++) {
      const p = parser();
      let fatal = false;
      for (let n = 0; n < 200 && !fatal; n++) {
        const piece = pieces[Math.floor(random() * pieces.length)]!;
        p.push(bytes(piece));
        for (let frame = p.next(); frame !== null; frame = p.next()) {
          expect(fatal).toBe(false);
          fatal = frame.kind === "fatal";
        }
        // A command line of 100 bytes (+ its CR) or a block of 1000 bytes of items (+ a line).
        expect(p.bufferedBytes).toBeLessThanOrEqual(1000 + 101 + piece.length);
      }
      if (fatal) expect(p.bufferedBytes).toBe(0);
    }
  });
});
