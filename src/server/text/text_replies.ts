/**
 * The text protocol's replies, as Kestrel 2's `TextResponse` classes write them: every reply is
 * one line ending in LF, its first character saying what it is.
 *
 *   :<item>     an item (its bytes as stored), or a string (`status`, `version`)
 *   *           no item (an empty queue, a timeout, the end of a `monitor`)
 *   +<count>    success, with a count
 *   -<message>  an error, in words
 *
 * Invariant: every reply is exactly one line; text that may quote the client (an unknown command)
 * has its bytes outside printable ASCII written `?`, as Kestrel's ASCII encoding did for
 * non-ASCII, so no CR or other control byte goes back either. Item bytes go out untouched.
 */
import type { ReplyPiece } from "../outbox.ts";

export const NO_ITEM = "*\n";

export function itemReply(data: Uint8Array): ReplyPiece[] {
  return [":", data, "\n"];
}

export function countReply(count: number): string {
  return `+${count}\n`;
}

export function errorReply(message: string): string {
  return `-${printable(message)}\n`;
}

export function stringReply(message: string): string {
  return `:${printable(message)}\n`;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}

/** Kestrel's error messages, word for word (TextHandler.scala, KestrelHandler.scala). */
export const QUEUE_NAME_REQUIRED = "Queue name required.";
export const QUEUE_AND_TIMEOUT_REQUIRED = "Queue name & timeout required.";
export const QUEUE_AND_COUNT_REQUIRED = "Queue name & count required.";
export const BAD_EXPIRATION = "Error parsing expiration time.";
export const BAD_TIMEOUT = "Error parsing timeout.";
/** Ours: in Kestrel a `confirm` count that is not a number escaped the handler as an exception. */
export const BAD_COUNT = "Error parsing count.";
export const NOT_THAT_MANY_OPEN = "Not that many transactions open.";
export const UNKNOWN_STATUS = "Unknown status.";
export const STATUS_FORBIDDEN = "Status forbidden.";

export function unknownCommand(command: string): string {
  return `Unknown command: ${command}`;
}

/** Kestrel's `AvailabilityException` message: the server status refuses operation `op`. */
export function notAvailable(op: string): string {
  return `Server not available for operation ${op}`;
}
