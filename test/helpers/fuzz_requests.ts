/**
 * The memcache requests the protocol fuzzers send, as fast-check arbitraries: the parser alone
 * (test/server/memcache/request_parser_fuzz.test.ts) and a real server (test/integration/protocol_fuzz.test.ts).
 *
 * A request is plain data (`RequestSpec`): `render` turns it into bytes, `expectedFrame` into the
 * frame RequestParser must make of them, so every way of writing it (tabs, letter case, extra
 * words, a bare \n) is checked against one meaning; fuzz_model.ts gives the reply. Queues are
 * slots (0, 1, 2 = the fanout child of 0; 3 and up name a refused name) under a prefix per case, so
 * cases on one server never meet. Data blocks often hold protocol text (`shutdown\r\n`,
 * `flush_all\r\n`), which must never run. `StreamEnd` is a request after which the server closes
 * the connection. `request(true)` leaves `shutdown` out of data blocks, for streams that
 * fuzz_junk.ts then damages: a damaged header can turn a data block into commands.
 */
import fc from "fast-check";
import type { Frame } from "../../src/server/memcache/request_parser.ts";
import { bytes, concat } from "./bytes.ts";

/** How words are laid out on a line: separators (cycled), what comes before and after, letter case. */
export interface Style {
  readonly gaps: readonly string[];
  readonly lead: string;
  readonly trail: string;
  /** Bit i (mod 30) upper-cases letter i of command names and get options. */
  readonly caps: number;
  readonly bareNewline: boolean;
}

export interface GetKey {
  readonly slot: number;
  /** As written (`OPEN`, `t=5`, `bogus`). */
  readonly options: readonly string[];
}

export type OtherStorage = "add" | "replace" | "append" | "prepend" | "cas";
export type QueueCommand = "delete" | "flush" | "flush_expired";
export type PlainCommand = "version" | "stats" | "dump_stats" | "dump_config" | "flush_all" | "flush_all_expired" | "reload";

export type RequestSpec =
  | { readonly kind: "set"; readonly slot: number; readonly flags: number; readonly exptime: number; readonly data: Uint8Array; readonly noreply: boolean; readonly extra: readonly string[]; readonly style: Style }
  | { readonly kind: "bad-set"; readonly slot: number; readonly flags: string; readonly exptime: string; readonly data: Uint8Array; readonly noreply: boolean; readonly style: Style }
  | { readonly kind: "other-storage"; readonly command: OtherStorage; readonly slot: number; readonly data: Uint8Array; readonly noreply: boolean; readonly style: Style }
  | { readonly kind: "get"; readonly command: "get" | "gets"; readonly keys: readonly GetKey[]; readonly style: Style }
  | { readonly kind: "queue-command"; readonly command: QueueCommand; readonly slot: number; readonly noreply: boolean; readonly style: Style }
  | { readonly kind: "command"; readonly command: PlainCommand; readonly style: Style }
  | { readonly kind: "unknown"; readonly words: readonly string[]; readonly style: Style };

/** Requests that end the connection: the reply, then the server closes it. */
export type StreamEnd = "negative-length" | "no-length" | "glued" | "too-large" | "line-too-long" | "bad-data-chunk";

export interface Limits {
  readonly maxLineLength: number;
  readonly maxRequestSize: number;
}

const REFUSED_NAMES = ["no/slash", ".hidden", "a~b", ".."];
export const VALID_SLOTS = 3;

/** The queue a slot names under `prefix`: `<p>a`, `<p>b`, `<p>a+c` (a fanout child of `<p>a`), or a refused name. */
export function queueName(prefix: string, slot: number): string {
  if (slot < VALID_SLOTS) return `${prefix}${["a", "b", "a+c"][slot]}`;
  return REFUSED_NAMES[(slot - VALID_SLOTS) % REFUSED_NAMES.length]!;
}

function withCase(word: string, caps: number): string {
  let out = "";
  for (let i = 0; i < word.length; i++) out += (caps >> i % 30) & 1 ? word[i]!.toUpperCase() : word[i]!;
  return out;
}

function line(words: readonly string[], style: Style): Uint8Array {
  const gaps = words.slice(1).map((_, i) => style.gaps[i % style.gaps.length]!);
  const text = words.map((word, i) => (i === 0 ? word : gaps[i - 1] + word)).join("");
  return bytes(`${style.lead}${text}${style.trail}${style.bareNewline ? "\n" : "\r\n"}`);
}

function withBlock(header: Uint8Array, data: Uint8Array): Uint8Array {
  return concat(header, data, bytes("\r\n"));
}

/** The words of a request's line, as sent. */
function words(spec: RequestSpec, prefix: string): string[] {
  const command = (name: string) => withCase(name, spec.style.caps);
  const noreply = (on: boolean) => (on ? ["noreply"] : []);
  switch (spec.kind) {
    case "set":
      return [command("set"), queueName(prefix, spec.slot), String(spec.flags), String(spec.exptime), String(spec.data.length), ...spec.extra, ...noreply(spec.noreply)];
    case "bad-set":
      return [command("set"), queueName(prefix, spec.slot), spec.flags, spec.exptime, String(spec.data.length), ...noreply(spec.noreply)];
    case "other-storage":
      return [command(spec.command), queueName(prefix, spec.slot), "0", "0", String(spec.data.length), ...(spec.command === "cas" ? ["42"] : []), ...noreply(spec.noreply)];
    case "get":
      return [command(spec.command), ...spec.keys.map((key) => getKeyText(key, prefix))];
    case "queue-command":
      return [command(spec.command), queueName(prefix, spec.slot), ...noreply(spec.noreply)];
    case "command":
      return [command(spec.command)];
    case "unknown":
      return spec.words.map((word, i) => (i === 0 ? command(word) : word));
  }
}

export function getKeyText(key: GetKey, prefix: string): string {
  return [queueName(prefix, key.slot), ...key.options].join("/");
}

export function render(spec: RequestSpec, prefix: string): Uint8Array {
  const header = line(words(spec, prefix), spec.style);
  return "data" in spec ? withBlock(header, spec.data) : header;
}

export function renderAll(specs: readonly RequestSpec[], prefix: string): Uint8Array {
  return concat(...specs.map((spec) => render(spec, prefix)));
}

const BAD_FORMAT = "CLIENT_ERROR bad command line format";

/** The frame RequestParser makes of `render(spec, prefix)`. */
export function expectedFrame(spec: RequestSpec, prefix: string): Frame {
  switch (spec.kind) {
    case "set":
      return { kind: "set", key: queueName(prefix, spec.slot), flags: spec.flags, exptime: spec.exptime, data: spec.data, noreply: spec.noreply };
    case "bad-set":
      return { kind: "bad-request", reply: BAD_FORMAT, noreply: spec.noreply };
    case "other-storage":
      return { kind: "unsupported-storage", command: spec.command, noreply: spec.noreply };
    default: {
      const [command = "", ...args] = words(spec, prefix);
      return { kind: "line", command: command.toLowerCase(), args };
    }
  }
}

/** A stream end's bytes and the one reply before the connection closes. */
export function renderEnd(end: StreamEnd, limits: Limits): { readonly bytes: Uint8Array; readonly reply: string } {
  switch (end) {
    case "negative-length":
      return { bytes: bytes("set q 0 0 -1\r\nshutdown\r\n"), reply: BAD_FORMAT };
    case "no-length":
      return { bytes: bytes("set q 0 0\r\nshutdown\r\n"), reply: BAD_FORMAT };
    case "glued":
      return { bytes: bytes("set\x00q 0 0 8\r\nshutdown\r\n"), reply: BAD_FORMAT };
    case "too-large":
      return { bytes: bytes(`set q 0 0 ${limits.maxRequestSize + 1}\r\nshutdown\r\n`), reply: "SERVER_ERROR object too large" };
    case "line-too-long":
      return { bytes: bytes(`get ${"x".repeat(limits.maxLineLength + 10)}\r\nshutdown\r\n`), reply: "CLIENT_ERROR line too long" };
    case "bad-data-chunk":
      return { bytes: bytes("set q 0 0 3\r\nabcd\r\nshutdown\r\n"), reply: "CLIENT_ERROR bad data chunk" };
  }
}

export const streamEnd: fc.Arbitrary<StreamEnd> = fc.constantFrom("negative-length", "no-length", "glued", "too-large", "line-too-long", "bad-data-chunk");

const style: fc.Arbitrary<Style> = fc.record({
  gaps: fc.array(fc.constantFrom(" ", " ", "\t", "  ", " \t", "\t "), { minLength: 1, maxLength: 3 }),
  lead: fc.constantFrom("", "", "", " ", "\t"),
  trail: fc.constantFrom("", "", "", " ", "\t"),
  caps: fc.oneof(fc.constant(0), fc.nat()),
  bareNewline: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const PROTOCOL_TEXT = ["flush_all\r\n", "delete x\r\n", "quit\r\n", "set x 0 0 1\r\n", "get x/open\r\n", "\r\n", "END\r\n", "VALUE x 0 1\r\n", "reload\r\n"];

/** Item data: binary, protocol text (with `shutdown` unless `junkSafe`), or a block big enough to span many packets. */
function itemData(junkSafe: boolean): fc.Arbitrary<Uint8Array> {
  const text = junkSafe ? PROTOCOL_TEXT : [...PROTOCOL_TEXT, "shutdown\r\n", "shutdown\r\n"];
  return fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...text), { minLength: 1, maxLength: 4 }).map((parts) => bytes(parts.join(""))) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 70_000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 31 + n) & 255)) },
  );
}

const slot = fc.nat({ max: VALID_SLOTS - 1 });
const anySlot = fc.oneof({ weight: 9, arbitrary: slot }, { weight: 1, arbitrary: fc.integer({ min: VALID_SLOTS, max: VALID_SLOTS + 3 }) });

const getOption = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom("open", "close", "abort", "peek"), fc.nat()).map(([option, caps]) => withCase(option, caps)) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 8 }), fc.boolean()).map(([ms, upper]) => `${upper ? "T" : "t"}=${ms}`) },
  { weight: 1, arbitrary: fc.constantFrom("bogus", "", "t=", "t=-1") },
);

const getKey: fc.Arbitrary<GetKey> = fc.record({ slot: anySlot, options: fc.array(getOption, { maxLength: 3 }) });

const noreply = fc.boolean();
const extraWords = fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom("extra", "7", "x"), { maxLength: 2 }) });
const unknownWords = fc.oneof(
  fc.constant([]),
  fc.tuple(fc.stringMatching(/^zz[a-z_]{0,6}$/), fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 3 })).map(([name, rest]) => [name, ...rest]),
);

/** One request of any kind the model knows; `junkSafe` leaves `shutdown` out of data blocks. */
export function request(junkSafe = false): fc.Arbitrary<RequestSpec> {
  const data = itemData(junkSafe);
  const set = fc.record({
    kind: fc.constant("set" as const),
    slot: anySlot,
    flags: fc.oneof(fc.constant(0), fc.nat()),
    exptime: fc.constantFrom(0, 0, 3600, 4_000_000_000),
    data,
    noreply,
    extra: extraWords,
    style,
  });
  const badSet = fc.record({
    kind: fc.constant("bad-set" as const),
    slot,
    flags: fc.constantFrom("x", "1x", "-1", "0"),
    exptime: fc.constantFrom("abc", "1.5", "--1", "0x"),
    data,
    noreply,
    style,
  });
  const otherStorage = fc.record({
    kind: fc.constant("other-storage" as const),
    command: fc.constantFrom<OtherStorage>("add", "replace", "append", "prepend", "cas"),
    slot,
    data,
    noreply,
    style,
  });
  const get = fc.record({
    kind: fc.constant("get" as const),
    command: fc.constantFrom<"get" | "gets">("get", "get", "gets"),
    keys: fc.array(getKey, { minLength: 1, maxLength: 3 }),
    style,
  });
  const queueCommand = fc.record({
    kind: fc.constant("queue-command" as const),
    command: fc.constantFrom<QueueCommand>("delete", "flush", "flush_expired"),
    slot: anySlot,
    noreply,
    style,
  });
  const command = fc.record({
    kind: fc.constant("command" as const),
    command: fc.constantFrom<PlainCommand>("version", "stats", "dump_stats", "dump_config", "flush_all", "flush_all_expired", "reload"),
    style,
  });
  const unknown = fc.record({ kind: fc.constant("unknown" as const), words: unknownWords, style });
  return fc.oneof(
    { weight: 8, arbitrary: set },
    { weight: 1, arbitrary: badSet },
    { weight: 1, arbitrary: otherStorage },
    { weight: 8, arbitrary: get },
    { weight: 2, arbitrary: queueCommand },
    { weight: 2, arbitrary: command },
    { weight: 1, arbitrary: unknown },
  );
}
