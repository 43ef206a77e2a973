/**
 * Hand-built memcache binary-protocol requests, as memjs, Dalli or pylibmc (binary=True) send
 * them: a 24-byte header (magic 0x80, opcode, key length, extras length, data type, vbucket,
 * total body length, opaque, cas) and the key. Only what tests of the server's refusal need.
 */

export const OPCODE_GET = 0x00;
export const OPCODE_SET = 0x01;

/** A request with `opcode`, `key` and `opaque`, no extras and no value. */
export function binaryRequest(opcode: number, key: string, opaque: number): Uint8Array {
  const keyBytes = Buffer.from(key, "latin1");
  const request = Buffer.alloc(24 + keyBytes.length);
  request[0] = 0x80;
  request[1] = opcode;
  request.writeUInt16BE(keyBytes.length, 2);
  request.writeUInt32BE(keyBytes.length, 8);
  request.writeUInt32BE(opaque, 12);
  request.set(keyBytes, 24);
  return new Uint8Array(request);
}

/** The fields of a binary-protocol response header (the first 24 bytes of `response`). */
export function responseHeader(response: Uint8Array) {
  const view = Buffer.from(response.buffer, response.byteOffset, response.byteLength);
  return {
    magic: view[0],
    opcode: view[1],
    keyLength: view.readUInt16BE(2),
    extrasLength: view[4],
    status: view.readUInt16BE(6),
    bodyLength: view.readUInt32BE(8),
    opaque: view.readUInt32BE(12),
    cas: view.readBigUInt64BE(16),
  };
}
