/**
 * Parsers for the kinds of value a config key can hold.
 *
 * Each parser takes the raw TOML value and returns the typed value, or a `Mismatch` that says
 * what was expected, for an error message that names the key. Sizes accept a plain number of
 * bytes or a string with a unit (B, KB, MB, GB, KiB, MiB, GiB); durations a plain number in the
 * key's own unit or a string with one (ms, s, m, h); counts and sizes also accept "unlimited".
 * A string whose nonzero amount rounds to zero ("0.1ms", "0.3B") is refused: read as 0 it would
 * silently mean "off", "never" or "nothing" instead of the small value that was written.
 */
import type { SyncPolicy } from "../journal/sync_policy.ts";

export class Mismatch {
  /**
   * `expected` says what the key takes; `problem`, when set, says what is wrong with a value of the
   * right form (the error then shows it instead of "expected ..., got ...").
   */
  constructor(
    readonly expected: string,
    readonly problem: string | null = null,
  ) {}
}

export type Parser<T> = (raw: unknown) => T | Mismatch;

/** A TOML table (a section such as `[queues.jobs]`), not an array or a date. */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function isWholeNumber(raw: unknown): raw is number {
  return typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0;
}

/**
 * `raw` ("<number><unit>") in whole base units (bytes, milliseconds), rounded. A nonzero amount
 * that rounds to zero is a Mismatch with the problem spelled out.
 */
function withUnit(raw: string, units: Record<string, number>, baseUnit: string, expected: string): number | Mismatch {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(raw);
  const factor = match === null ? undefined : units[match[2]!.toLowerCase()];
  if (factor === undefined) return new Mismatch(expected);
  const amount = Number(match![1]);
  const value = Math.round(amount * factor);
  if (value === 0 && amount > 0) return new Mismatch(expected, `"${raw}" rounds to zero ${baseUnit}; write 0 if zero is meant, or a larger value`);
  return value;
}

export const boolean: Parser<boolean> = (raw) => (typeof raw === "boolean" ? raw : new Mismatch("true or false"));

export function integer(min: number, max: number): Parser<number> {
  return (raw) => (isWholeNumber(raw) && raw >= min && raw <= max ? raw : new Mismatch(`a whole number from ${min} to ${max}`));
}

export const count: Parser<number> = (raw) => {
  if (raw === "unlimited") return Infinity;
  return isWholeNumber(raw) ? raw : new Mismatch('a whole number or "unlimited"');
};

/** A count of at least 1, or "unlimited". */
export const positiveCount: Parser<number> = (raw) => {
  const value = count(raw);
  return value === 0 ? new Mismatch('a whole number of at least 1, or "unlimited"') : value;
};

/** A size in bytes, at least `minBytes`. */
export function size(allowUnlimited: boolean, minBytes = 0): Parser<number> {
  const atLeast = minBytes > 0 ? ` of at least ${minBytes} bytes` : "";
  const expected = `a size in bytes (a number, or a string like "16MiB")${allowUnlimited ? ' or "unlimited"' : ""}${atLeast}`;
  return (raw) => {
    if (allowUnlimited && raw === "unlimited") return Infinity;
    const bytes = isWholeNumber(raw) ? raw : typeof raw === "string" ? withUnit(raw, SIZE_UNITS, "bytes", expected) : new Mismatch(expected);
    return typeof bytes === "number" && bytes < minBytes ? new Mismatch(expected) : bytes;
  };
}

/** The longest delay a timer takes (about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration of at most `maxMs`; a bare number is in `unitMs` milliseconds. Returns milliseconds. */
export function duration(unitName: string, unitMs: number, maxMs = Infinity): Parser<number> {
  const most = maxMs === Infinity ? "" : ` of at most ${maxMs} ms`;
  const expected = `a duration (a number of ${unitName}, or a string like "500ms", "30s", "5m")${most}`;
  return (raw) => {
    const ms = isWholeNumber(raw) ? raw * unitMs : typeof raw === "string" ? withUnit(raw, DURATION_UNITS_MS, "milliseconds", expected) : new Mismatch(expected);
    return typeof ms === "number" && ms > maxMs ? new Mismatch(expected) : ms;
  };
}

export const text: Parser<string> = (raw) => (typeof raw === "string" && raw.length > 0 ? raw : new Mismatch("a non-empty string"));

export function optional<T>(parser: Parser<T>): Parser<T | null> {
  return (raw) => (raw === "" || raw === false ? null : parser(raw));
}

export function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
  return (raw) => ((choices as readonly unknown[]).includes(raw) ? (raw as T) : new Mismatch(`one of ${choices.map((c) => `"${c}"`).join(", ")}`));
}

const intervalMs = duration("milliseconds", 1, MAX_TIMER_MS);

export const syncPolicy: Parser<SyncPolicy> = (raw) => {
  if (raw === false || raw === "never") return { kind: "never" };
  if (raw === true || raw === "always") return { kind: "always" };
  const ms = typeof raw === "string" ? intervalMs(raw) : new Mismatch("");
  if (typeof ms === "number" && ms > 0) return { kind: "interval", ms };
  return new Mismatch('false/"never", true/"always", or an interval like "20ms"', ms instanceof Mismatch ? ms.problem : null);
};
