/**
 * The protocol fuzzer, on RequestParser alone (fast-check; a real server gets the same requests in
 * test/integration/protocol_fuzz.test.ts). Streams are fed in random pieces, every frame taken
 * after each piece, as a connection does.
 *
 * - Valid requests of every kind, written every way (tabs, case, extra words, bare \n), data
 *   blocks full of protocol text, maybe ended by a request that closes the connection: exactly
 *   the frames they mean, so no data block is ever read as a command.
 * - Damaged valid streams: the requests before the first damage still give their frames.
 * - Any junk: never throws; the same frames however the stream is split; nothing after a fatal
 *   frame; what the parser holds stays within one line or one data block.
 *
 * Runs and seed: test/helpers/property_budget.ts (KESTREL_FUZZ_RUNS, KESTREL_FUZZ_SECONDS, ...).
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { RequestParser, type Frame } from "../../../src/server/memcache/request_parser.ts";
import { concat, text } from "../../helpers/bytes.ts";
import { damagedRequests, junk, mutate } from "../../helpers/fuzz_junk.ts";
import { expectedFrame, render, renderAll, renderEnd, request, streamEnd, type Limits } from "../../helpers/fuzz_requests.ts";
import { assertFuzz, fuzzBudget, fuzzCheck } from "../../helpers/property_budget.ts";

const LIMITS: Limits = { maxLineLength: 200, maxRequestSize: 80_000 };
const PREFIX = "fz";

/** Piece sizes, used in turn. */
const pieces = fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 });

/** Frames with their data as text, for comparison. */
const plain = (frames: readonly Frame[]): unknown[] => frames.map((f) => (f.kind === "set" ? { ...f, data: text(f.data) } : f));

/**
 * Feeds `stream` to a parser in pieces of `sizes` (in turn), taking every frame after each, and
 * checks what it holds between pieces: at most one line, or one data block and its \r\n.
 */
function parseInPieces(stream: Uint8Array, sizes: readonly number[]): Frame[] {
  const parser = new RequestParser(LIMITS.maxLineLength, LIMITS.maxRequestSize);
  const frames: Frame[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const size = sizes[i % sizes.length]!;
    parser.push(stream.subarray(at, at + size));
    at += size;
    for (let frame = parser.next(); frame !== null; frame = parser.next()) {
      if (frames.at(-1)?.kind === "fatal") throw new Error(`a frame after a fatal one: ${JSON.stringify(frame)}`);
      frames.push(frame);
    }
    expect(parser.bufferedBytes).toBeLessThanOrEqual(Math.max(LIMITS.maxLineLength, LIMITS.maxRequestSize + 1));
  }
  return frames;
}

const valid = fuzzBudget(1000, 5);
test(`valid requests, split anywhere, give exactly their frames (${valid.label})`, async () => {
  const property = fc.asyncProperty(
    fc.array(request(), { maxLength: 16 }),
    fc.option(streamEnd),
    pieces,
    fuzzCheck(async (specs, end, sizes) => {
      const ending = end === null ? null : renderEnd(end, LIMITS);
      const stream = concat(renderAll(specs, PREFIX), ending?.bytes ?? new Uint8Array(0));
      const expected = specs.map((spec) => expectedFrame(spec, PREFIX));
      if (ending !== null) expected.push({ kind: "fatal", reply: ending.reply });
      expect(plain(parseInPieces(stream, sizes))).toEqual(plain(expected));
    }),
  );
  await assertFuzz(property, valid, "parser fuzz, valid requests");
}, valid.timeoutMs);

const damaged = fuzzBudget(1000, 5);
test(`damaged streams: every request before the first damage gives its frame (${damaged.label})`, async () => {
  const property = fc.asyncProperty(
    damagedRequests(),
    pieces,
    fuzzCheck(async ({ specs, mutations }, sizes) => {
      const rendered = specs.map((spec) => render(spec, PREFIX));
      const { bytes, firstDamage } = mutate(concat(...rendered), mutations);
      let intact = 0;
      for (let end = 0; intact < rendered.length && (end += rendered[intact]!.length) <= firstDamage; ) intact++;
      const expected = specs.slice(0, intact).map((spec) => expectedFrame(spec, PREFIX));
      expect(plain(parseInPieces(bytes, sizes).slice(0, intact))).toEqual(plain(expected));
    }),
  );
  await assertFuzz(property, damaged, "parser fuzz, damaged streams");
}, damaged.timeoutMs);

const anyJunk = fuzzBudget(1500, 3);
test(`junk: no throw, the same frames however split, nothing after a fatal frame, bounded (${anyJunk.label})`, async () => {
  const property = fc.asyncProperty(
    junk(PREFIX),
    pieces,
    fuzzCheck(async (stream, sizes) => {
      expect(plain(parseInPieces(stream, sizes))).toEqual(plain(parseInPieces(stream, [stream.length])));
    }),
  );
  await assertFuzz(property, anyJunk, "parser fuzz, junk");
}, anyJunk.timeoutMs);
