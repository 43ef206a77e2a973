/**
 * The protocol's fixed replies as ready-to-send bytes, and builders for the variable ones.
 */
const encode = (text: string): Uint8Array => Buffer.from(text, "latin1");

export const STORED = encode("STORED\r\n");
export const NOT_STORED = encode("NOT_STORED\r\n");
export const END = encode("END\r\n");
export const DELETED = encode("DELETED\r\n");
export const ERROR = encode("ERROR\r\n");
export const FLUSHED_ALL = encode("Flushed all queues.\r\n");
export const RELOADED = encode("Reloaded config.\r\n");
const VALUE_TRAILER = encode("\r\nEND\r\n");
const CRLF = encode("\r\n");

export function line(text: string): Uint8Array {
  return encode(`${text}\r\n`);
}

export function clientError(reason: string): Uint8Array {
  return line(`CLIENT_ERROR ${reason}`);
}

export function serverError(reason: string): Uint8Array {
  return line(`SERVER_ERROR ${reason}`);
}

/** `VALUE <key> 0 <bytes>` + data, without the closing END (a multi-key get has one END). */
export function value(key: string, data: Uint8Array): Uint8Array[] {
  return [encode(`VALUE ${key} 0 ${data.length}\r\n`), data, CRLF];
}

/** A whole single-item reply: header, data, "\r\nEND\r\n". */
export function valueWithEnd(key: string, data: Uint8Array): Uint8Array[] {
  return [encode(`VALUE ${key} 0 ${data.length}\r\n`), data, VALUE_TRAILER];
}
