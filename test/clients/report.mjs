// Result lines for test/clients/run.ts, shared by the Node scenarios. A scenario awaits
// check(name, fn): fn throws (expect() or the client) to fail, returns nothing to pass or a
// string to pass with a detail; skip(name, why) says the client has no way to do it. Every check
// uses its own queue, named after the check.
import { randomBytes } from "node:crypto";
import { inspect, isDeepStrictEqual } from "node:util";

export const host = process.argv[2];
export const port = Number(process.argv[3]);

/** Bytes a text-protocol client must carry untouched: CR LF, NUL, an "END" line, every byte value. */
export const BINARY = Buffer.concat([Buffer.from("line\r\nEND\r\n\0\r\n"), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from("\r\n")]);
/** 1 MiB, not compressible. */
export const LARGE = randomBytes(1 << 20);
/** 1 MiB of text, for clients that write values as UTF-8 strings. */
export const LARGE_TEXT = LARGE.toString("base64").slice(0, 1 << 20);
/** Values of every type the JSON-flag clients keep: number, string, object, array. */
export const TYPED = [42, 2.5, "héllo ✓", { list: [1, 2.5, null] }, ["a", 1]];
const FAIL_FAST_MS = 1000;

export function version(text) {
  console.log(`version ${text}`);
}

function shown(value) {
  return inspect(value, { breakLength: Infinity, maxStringLength: 60, maxArrayLength: 8 });
}

export function expect(actual, wanted, what) {
  if (!isDeepStrictEqual(actual, wanted)) throw new Error(`${what}: got ${shown(actual)}, wanted ${shown(wanted)}`);
}

export async function check(name, fn) {
  try {
    const detail = await fn(name);
    console.log(`pass ${name} ${detail ?? ""}`);
  } catch (error) {
    console.log(`fail ${name} ${String(error?.stack ?? error).split("\n")[0]}`);
  }
}

export function skip(name, why) {
  console.log(`skip ${name} ${why}`);
}

/**
 * A binary-protocol client's request must end in an error from the server's reply within a second,
 * long before the client's own timeout would end it. `request` is the client call.
 */
export async function failsFast(request) {
  const started = performance.now();
  let value;
  try {
    value = await request();
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    if (ms > FAIL_FAST_MS) throw new Error(`failed only after ${ms} ms: ${error}`);
    return `error after ${ms} ms: ${error}`;
  }
  throw new Error(`request over the binary protocol did not fail: ${shown(value)}`);
}
