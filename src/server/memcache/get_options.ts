/**
 * Parses a get key: `<queue>[/option...]` with options `t=<ms>`, `open`, `close`, `abort`, `peek`
 * in any order, in any case (`OPEN`, `T=100`) as command names are; the queue name keeps its case.
 * A negative `t=` is no wait, as in Kestrel (its deadline is already past).
 * Returns the request or the reason it is invalid; `parseGetKeyCached` remembers recent answers.
 */
import { isValidQueueName } from "../../queue_name.ts";
import type { ReadRequest } from "../commands/read_items.ts";

export interface GetRequest extends ReadRequest {
  /** The key exactly as the client sent it (echoed in VALUE). */
  readonly key: string;
}

/** The longest wait a client may ask for (`t=`, monitor seconds). */
export const MAX_WAIT_MS = 24 * 3600 * 1000;

/** Keys parsed lately: a client asks for the same few keys over and over. Emptied when full. */
const parsed = new Map<string, GetRequest | string>();
const MAX_PARSED = 1024;

/** `parseGetKey`, remembering the answer (both are immutable) for the next request of the same key. */
export function parseGetKeyCached(key: string): GetRequest | string {
  let request = parsed.get(key);
  if (request === undefined) {
    if (parsed.size >= MAX_PARSED) parsed.clear();
    request = parseGetKey(key);
    parsed.set(key, request);
  }
  return request;
}

export function parseGetKey(key: string): GetRequest | string {
  const [queue = "", ...options] = key.split("/");
  if (!isValidQueueName(queue)) return `bad queue name '${queue}'`;
  let timeoutMs = 0;
  let open = false;
  let close = false;
  let abort = false;
  let peek = false;
  for (const written of options) {
    const option = written.toLowerCase();
    if (option === "open") open = true;
    else if (option === "close") close = true;
    else if (option === "abort") abort = true;
    else if (option === "peek") peek = true;
    else if (option.startsWith("t=") && /^-?\d+$/.test(option.slice(2))) timeoutMs = Math.min(Math.max(Number(option.slice(2)), 0), MAX_WAIT_MS);
    else if (option !== "") return `unknown option '${written}'`;
  }
  if (peek && (open || close || abort)) return "peek can't be combined with open, close or abort";
  if (abort && (open || close)) return "abort can't be combined with open or close";
  return { key, queue, timeoutMs, open, close, abort, peek };
}
