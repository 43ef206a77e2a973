import { expect, test } from "bun:test";
import { ReplyParser, type ReplyKind } from "../../bench/lib/protocol.ts";

const BLOCK = Buffer.from("abc\r\n", "latin1");
type Seen = [kind: ReplyKind, values: number];

/** The replies `text` gives, fed in pieces of `piece` bytes, to a parser allowing `maxValues` VALUE blocks per reply. */
function parse(text: string, maxValues?: number, piece = text.length): Seen[] {
  const seen: Seen[] = [];
  const parser = new ReplyParser(BLOCK, (kind, _detail, values) => seen.push([kind, values]), maxValues);
  const bytes = Buffer.from(text, "latin1");
  for (let at = 0; at < bytes.length; at += piece) parser.feed(bytes.subarray(at, at + piece));
  return seen;
}

const VALUE = "VALUE k 0 3\r\nabc\r\n";

test("a get of several keys is one hit that counts its VALUE blocks, however the bytes are split", () => {
  const text = `${VALUE.repeat(3)}END\r\nEND\r\nSTORED\r\n`;
  for (let piece = 1; piece <= text.length; piece++) {
    expect(parse(text, 400, piece)).toEqual([["hit", 3], ["miss", 0], ["stored", 0]]);
  }
});

test("more VALUE blocks than allowed make the reply unexpected", () => {
  expect(parse(`${VALUE.repeat(2)}END\r\n`)).toEqual([["unexpected", 0]]);
  expect(parse(`${VALUE}END\r\n`)).toEqual([["hit", 1]]);
});

test("one wrong block makes the whole reply corrupt", () => {
  expect(parse(`${VALUE}VALUE k 0 3\r\nabd\r\n${VALUE}END\r\n`, 10)).toEqual([["corrupt", 3]]);
});

test("a data block not followed by CRLF is unexpected, and the replies after the next chunk are read afresh", () => {
  const seen: Seen[] = [];
  const parser = new ReplyParser(BLOCK, (kind, _detail, values) => seen.push([kind, values]));
  parser.feed(Buffer.from("VALUE k 0 3\r\nabcd\r\nEND\r\n", "latin1"));
  parser.feed(Buffer.from("STORED\r\n", "latin1"));
  expect(seen).toEqual([["unexpected", 0], ["stored", 0]]);
});
