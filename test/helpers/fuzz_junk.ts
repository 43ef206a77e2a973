/**
 * Byte streams no model predicts, for the protocol fuzzers: random bytes, runs of protocol
 * fragments, and streams of valid requests (fuzz_requests.ts, with `shutdown` kept out of their
 * data) damaged by mutations: a bit flipped, a byte deleted, bytes inserted, a number replaced by
 * a huge or malformed one, the stream cut. `mutate` says where the first damage is, so a test can
 * check that everything before it was still understood.
 *
 * Nothing here spells `shutdown`: junk sent to a shared test server must not be able to stop it
 * by asking (a damaged `set` header is an unknown command, and its data block is then read as
 * commands, as in memcached).
 */
import fc from "fast-check";
import { bytes, concat } from "./bytes.ts";
import { renderAll, request, type RequestSpec } from "./fuzz_requests.ts";

export type Mutation =
  | { readonly op: "flip"; readonly at: number; readonly bit: number }
  | { readonly op: "delete" | "cut"; readonly at: number }
  | { readonly op: "insert"; readonly at: number; readonly text: string }
  | { readonly op: "number"; readonly at: number; readonly text: string };

const INSERTS = ["\r\n", "\n", "\r", "\t", " ", "\x00", "\xff", "noreply", "set ", "get ", "/open", "99999999999999999999"];
const NUMBERS = ["99999999999999999999", "999999999999999", "4294967296", "-1", "-99999999999", "1e9", "0x10", "007", ""];
const FRAGMENTS = [
  "set ", "get ", "gets ", "delete ", "flush ", "stats", "version", "add ", "cas ", "SET ", "\tget\t",
  "q", "fzj", "fzj+c", "/open", "/close", "/abort", "/peek", "/t=", "/T=5", "0", "5", "65536", "4294967296", "99999999999999999",
  "-1", " ", "  ", "\t", "\r\n", "\n", "\r", "noreply", "\x00", "\xff", "\r\n\r\n", "x".repeat(300),
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constantFrom("delete" as const, "cut" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom(...INSERTS) }),
  fc.record({ op: fc.constant("number" as const), at: fc.nat(), text: fc.constantFrom(...NUMBERS) }),
);

/** `stream` with `mutations` applied in turn, and the offset of the first byte they changed. */
export function mutate(stream: Uint8Array, mutations: readonly Mutation[]): { readonly bytes: Uint8Array; readonly firstDamage: number } {
  let out = stream;
  let firstDamage = stream.length;
  for (const change of mutations) {
    const at = out.length === 0 ? 0 : change.at % (out.length + 1);
    let changedAt = at;
    if (change.op === "flip" && at < out.length) {
      out = out.slice();
      out[at] = out[at]! ^ (1 << change.bit);
    } else if (change.op === "delete") {
      out = concat(out.subarray(0, at), out.subarray(at + 1));
    } else if (change.op === "cut") {
      out = out.subarray(0, at);
    } else if (change.op === "insert") {
      out = concat(out.subarray(0, at), bytes(change.text), out.subarray(at));
    } else if (change.op === "number") {
      const digits = findDigits(out, at);
      if (digits === null) continue;
      changedAt = digits.start;
      out = concat(out.subarray(0, digits.start), bytes(change.text), out.subarray(digits.end));
    }
    firstDamage = Math.min(firstDamage, changedAt);
  }
  return { bytes: out, firstDamage };
}

/** The first run of ASCII digits at or after `from`. */
function findDigits(data: Uint8Array, from: number): { start: number; end: number } | null {
  const isDigit = (i: number) => data[i]! >= 48 && data[i]! <= 57;
  let start = from;
  while (start < data.length && !isDigit(start)) start++;
  if (start >= data.length) return null;
  let end = start;
  while (end < data.length && isDigit(end)) end++;
  return { start, end };
}

/** Valid requests (without `shutdown` in their data) and the mutations that damage them. */
export function damagedRequests(): fc.Arbitrary<{ readonly specs: readonly RequestSpec[]; readonly mutations: readonly Mutation[] }> {
  return fc.record({ specs: fc.array(request(true), { minLength: 1, maxLength: 8 }), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) });
}

/** Any junk: random bytes, protocol fragments, damaged valid streams (queues under `prefix`). */
export function junk(prefix: string): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 600 }),
    fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 40 }).map((parts) => bytes(parts.join(""))),
    damagedRequests().map(({ specs, mutations }) => mutate(renderAll(specs, prefix), mutations).bytes),
  );
}
