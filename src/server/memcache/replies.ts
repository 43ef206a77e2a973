/**
 * The memcache protocol's replies. Protocol text is kept as strings (one byte per char, latin1) and
 * encoded straight into the outbox's write buffer; only item data travels as bytes.
 */
import type { Item } from "../../journal/item.ts";
import type { Failure } from "../commands/failure.ts";
import type { ReplyPiece } from "../outbox.ts";

export const STORED = "STORED\r\n";
export const NOT_STORED = "NOT_STORED\r\n";
export const END = "END\r\n";
export const DELETED = "DELETED\r\n";
export const ERROR = "ERROR\r\n";
export const FLUSHED_ALL = "Flushed all queues.\r\n";
export const RELOADED = "Reloaded config.\r\n";

export function line(text: string): string {
  return `${text}\r\n`;
}

let versionText = "";
let versionReply = "";

/** `VERSION <version>`, made once: a client pipelining `version` unread queues one shared string per reply. */
export function versionLine(version: string): string {
  if (version !== versionText) {
    versionText = version;
    versionReply = line(`VERSION ${version}`);
  }
  return versionReply;
}

/**
 * A CLIENT_ERROR line. The reason may quote what the client sent (a queue name, an option): its
 * control bytes are written `\xNN`, so the reply stays one line whatever was sent.
 */
export function clientError(reason: string): string {
  return `CLIENT_ERROR ${reason.replace(/[\x00-\x1f\x7f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`)}\r\n`;
}

export function serverError(reason: string): string {
  return `SERVER_ERROR ${reason}\r\n`;
}

/**
 * `VALUE <key> <flags> <bytes>` + data, without the closing END (a multi-key get has one END);
 * with `cas` (a `gets`), the cas unique as a fifth field: the item's id, a decimal number unique
 * within its queue (clients read it as a 64-bit unsigned).
 */
export function value(key: string, item: Item, cas: boolean): ReplyPiece[] {
  return appendValue([], key, item, cas);
}

/** `value`'s pieces added to the end of `pieces` (a reply of several items is built in one array); returns `pieces`. */
export function appendValue(pieces: ReplyPiece[], key: string, item: Item, cas: boolean): ReplyPiece[] {
  pieces.push(`VALUE ${key} ${item.flags} ${item.data.length}${cas ? ` ${item.id}` : ""}\r\n`, item.data, "\r\n");
  return pieces;
}

/**
 * A command layer failure: the client's fault as CLIENT_ERROR, the server's as SERVER_ERROR, and
 * an open beyond max_open_transactions as Kestrel 2 answers it (MemcacheHandler.get): ERROR.
 */
export function failure(failed: Failure): string {
  if (failed.kind === "open-reads") return ERROR;
  return failed.kind === "unavailable" ? serverError(failed.reason) : clientError(failed.reason);
}
