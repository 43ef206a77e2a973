/**
 * Clients of memcache's binary protocol (memjs, Dalli, pylibmc with binary=True): kestrel speaks
 * only the text protocol, so it tells them so in theirs and hangs up.
 *
 * A binary request starts with the magic byte 0x80, which no text command starts with; the
 * parser looks only at a connection's first byte (request_parser.ts). Such a connection gets one
 * binary-protocol response to its first request and is closed: a client waiting for its reply
 * fails at once with an error instead of hanging (a text server would wait for a newline that
 * never comes). The response is memcached's binary response header, 24 bytes: magic 0x81, the
 * request's opcode, no key and no extras, status 0x0081 "Unknown command" (which every binary
 * client maps to an error), the body's length, the request's opaque (so the client matches it to
 * its request), cas 0; then the body, a short message saying why. The refusal is logged once per
 * connection, through the refusals log of access.ts (the first from an address written, repeats
 * counted), so a misconfigured client retrying in a loop can't flood the log.
 */
import { noteRefusal } from "../access.ts";
import { BINARY_HEADER_BYTES } from "./request_parser.ts";

const RESPONSE_MAGIC = 0x81;
export const STATUS_UNKNOWN_COMMAND = 0x0081;
export const BINARY_REFUSAL_MESSAGE = "Unknown command: kestrel speaks only the memcache text protocol";

/**
 * The response to a binary request whose header is `header` (BINARY_HEADER_BYTES bytes), logged
 * as a refusal of `peer`'s connection. Never throws.
 */
export function refuseBinaryRequest(header: Uint8Array, peer: string): Uint8Array {
  const opcode = header[1]!;
  const hex = `0x${opcode.toString(16).padStart(2, "0")}`;
  noteRefusal(
    `binary ${peer}`,
    `binary-protocol request (opcode ${hex}) from ${peer}: answered "unknown command" and closed; kestrel speaks only the memcache text protocol, so configure the client for the text (ASCII) protocol`,
  );
  return binaryErrorResponse(header);
}

/** The binary-protocol error response (see above) to the request whose header is `header`. */
export function binaryErrorResponse(header: Uint8Array): Uint8Array {
  const body = Buffer.from(BINARY_REFUSAL_MESSAGE, "latin1");
  const response = Buffer.alloc(BINARY_HEADER_BYTES + body.length);
  response[0] = RESPONSE_MAGIC;
  response[1] = header[1]!;
  response.writeUInt16BE(STATUS_UNKNOWN_COMMAND, 6);
  response.writeUInt32BE(body.length, 8);
  response.set(header.subarray(12, 16), 12);
  response.set(body, BINARY_HEADER_BYTES);
  return response;
}
