import { expect, test } from "bun:test";
import { BINARY_REFUSAL_MESSAGE, STATUS_UNKNOWN_COMMAND, binaryErrorResponse } from "../../../src/server/memcache/binary_protocol.ts";
import { OPCODE_SET, binaryRequest, responseHeader } from "../../helpers/binary_request.ts";
import { text } from "../../helpers/bytes.ts";

test("the refusal is a binary response to the request: its opcode and opaque, status unknown command, a message body", () => {
  const request = binaryRequest(OPCODE_SET, "jobs", 0xdeadbeef);
  const response = binaryErrorResponse(request.subarray(0, 24));
  expect(responseHeader(response)).toEqual({
    magic: 0x81,
    opcode: OPCODE_SET,
    keyLength: 0,
    extrasLength: 0,
    status: STATUS_UNKNOWN_COMMAND,
    bodyLength: BINARY_REFUSAL_MESSAGE.length,
    opaque: 0xdeadbeef,
    cas: 0n,
  });
  expect(response.length).toBe(24 + BINARY_REFUSAL_MESSAGE.length);
  expect(text(response.subarray(24))).toBe(BINARY_REFUSAL_MESSAGE);
});
