/**
 * Clients of memcache's binary protocol get a binary error response and the connection closed,
 * so they fail at once instead of waiting for a reply: a hand-built request, and memjs (the npm
 * package, run by Node as its users run it).
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BINARY_REFUSAL_MESSAGE, STATUS_UNKNOWN_COMMAND } from "../../src/server/memcache/binary_protocol.ts";
import { OPCODE_GET, binaryRequest, responseHeader } from "../helpers/binary_request.ts";
import { concat, text } from "../helpers/bytes.ts";
import { serverForFile } from "../helpers/server.ts";

const LOGGED = /binary-protocol request \(opcode 0x00\) from 127\.0\.0\.1: answered "unknown command" and closed/g;
const server = serverForFile();

test("a binary request is answered in the binary protocol, status unknown command, and the connection closed; logged once", async () => {
  const c = await server().client();
  const mark = server().output.length;
  // Two pipelined requests: the first is answered, nothing after it is read.
  await c.send(concat(binaryRequest(OPCODE_GET, "jobs", 0x11223344), binaryRequest(OPCODE_GET, "more", 7)));
  const response = await c.rest();
  expect(responseHeader(response)).toMatchObject({ magic: 0x81, opcode: OPCODE_GET, status: STATUS_UNKNOWN_COMMAND, opaque: 0x11223344 });
  expect(text(response.subarray(24))).toBe(BINARY_REFUSAL_MESSAGE);
  await server().waitForLog(LOGGED, mark);
  expect(server().output.slice(mark).match(LOGGED)?.length).toBe(1);

  const textClient = await server().client();
  expect(await textClient.set("after-binary", "ok")).toBe("STORED");
  expect(await textClient.get("after-binary")).toBe("ok");
  textClient.close();
});

const MEMJS_SCRIPT = `
const memjs = require("memjs");
const client = memjs.Client.create("127.0.0.1:" + process.argv[1], { retries: 1, logger: { log() {} } });
client.get("jobs", (error, value) => {
  console.log(JSON.stringify({ error: error && error.message, value }));
  client.close();
});
`;

test("memjs gets an error naming the refusal, not a timeout", () => {
  const result = spawnSync("node", ["-e", MEMJS_SCRIPT, String(server().port)], {
    encoding: "utf8",
    cwd: join(import.meta.dir, "..", ".."),
    timeout: 30_000,
  });
  expect(result.stderr).toBe("");
  expect(JSON.parse(result.stdout)).toEqual({ error: "MemJS GET: Unknown command", value: null });
});
