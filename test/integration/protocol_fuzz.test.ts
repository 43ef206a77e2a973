/**
 * The protocol fuzzer against a real server (fast-check; the parser alone gets the same requests
 * in test/server/memcache/request_parser_fuzz.test.ts). One server for every case; each case has its own
 * connection and queues, deleted after it. Requests go out pipelined, cut at random byte
 * boundaries into separate writes.
 *
 * - Valid requests of every kind (fuzz_requests.ts), data blocks full of protocol text including
 *   `shutdown`, maybe ended by a request that closes the connection: every reply is exactly what
 *   the model (fuzz_model.ts) says, in request order, and nothing more (a last `version` comes
 *   right after). So replies stay in step, and no data block runs as a command.
 * - Junk (fuzz_junk.ts), then the client closes: whatever came back is a run of well-formed
 *   replies.
 * - After every case: the process is alive, a new connection is answered, and the server's
 *   resident set is under RSS_CEILING_MIB.
 *
 * A case that gets no reply for WATCHDOG_MS fails (a hang, reported like any failure) rather than
 * timing the whole test out. Runs and seed: test/helpers/property_budget.ts; `npm run fuzz`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { MAX_LINE_LENGTH } from "../../src/server/memcache/front_end.ts";
import { bytes, concat, text } from "../helpers/bytes.ts";
import type { TestClient } from "../helpers/client.ts";
import { junk } from "../helpers/fuzz_junk.ts";
import { ServerModel, type ExpectedReply } from "../helpers/fuzz_model.ts";
import { queueName, render, renderEnd, request, streamEnd, VALID_SLOTS, type Limits, type RequestSpec, type StreamEnd } from "../helpers/fuzz_requests.ts";
import { residentMiB } from "../helpers/memory.ts";
import { assertFuzz, fuzzBudget, fuzzCheck } from "../helpers/property_budget.ts";
import { ServerProcess } from "../helpers/server.ts";

const LIMITS: Limits = { maxLineLength: MAX_LINE_LENGTH, maxRequestSize: 1024 * 1024 };
/** The server's resident set, checked after every case: a bound with room, not a measurement. */
const RSS_CEILING_MIB = 256;
const WATCHDOG_MS = 10_000;

let server: ServerProcess;
let cases = 0;
let peakMiB = 0;

beforeAll(async () => {
  server = await ServerProcess.start({ config: `max_request_size = "1MiB"\n` });
});

afterAll(async () => {
  process.stderr.write(`protocol fuzz: ${cases} cases, server resident set at most ${peakMiB.toFixed(0)} MiB (ceiling ${RSS_CEILING_MIB})\n`);
  expect(await server.stop()).toBe(0);
  server.removeData();
});

/** `work`, or an error saying what hung if it takes longer than WATCHDOG_MS. */
async function watchdog<T>(work: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${WATCHDOG_MS} ms: ${what()}`)), WATCHDOG_MS)));
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `stream` in pieces of `sizes` (in turn), yielding to the event loop between them. */
async function sendInPieces(client: TestClient, stream: Uint8Array, sizes: readonly number[]): Promise<void> {
  for (let at = 0, i = 0; at < stream.length; i++) {
    const size = sizes[i % sizes.length]!;
    await client.send(stream.subarray(at, at + size));
    at += size;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const expectClosed = (error: Error): void => expect(error.message).toMatch(/closed/);
const show = (data: Uint8Array): string => JSON.stringify(text(data).slice(0, 300));

const expectation = (reply: ExpectedReply): string =>
  reply.kind === "bytes" ? show(reply.bytes) : reply.kind === "line" ? `a line like ${reply.pattern}` : "lines up to END";

async function expectReply(client: TestClient, expected: ExpectedReply, request: string): Promise<void> {
  if (expected.kind === "bytes") {
    const got = await client.readBytes(expected.bytes.length);
    if (text(got) !== text(expected.bytes)) throw new Error(`${request}: expected ${show(expected.bytes)}, got ${show(got)}`);
  } else if (expected.kind === "line") {
    const got = await client.readLine();
    if (!expected.pattern.test(got)) throw new Error(`${request}: expected a line like ${expected.pattern}, got ${JSON.stringify(got)}`);
  } else {
    await client.readUntilEnd();
  }
}

/**
 * Deletes `names` (or, if none given, every queue the server has: junk names queues like `0` and
 * `noreply`) on a new connection, each with `noreply` so that `delete noreply noreply` works too.
 */
async function deleteQueues(names?: readonly string[]): Promise<void> {
  const client = await server.client();
  const all = names ?? [...(await client.stats()).keys()].flatMap((stat) => /^queue_(.+)_logsize$/.exec(stat)?.[1] ?? []);
  expect(await client.call(all.map((name) => `delete ${name} noreply\r\n`).join("") + "version")).toMatch(/^VERSION /);
  client.close();
}

/** The server is alive, answers a new connection, and its resident set is under the ceiling. */
async function expectServerWell(): Promise<void> {
  expect(server.proc.exitCode).toBeNull();
  const client = await server.client();
  expect(await client.call("version")).toMatch(/^VERSION /);
  client.close();
  const rss = residentMiB(server.proc.pid);
  peakMiB = Math.max(peakMiB, rss);
  expect(rss).toBeLessThan(RSS_CEILING_MIB);
}

async function pipeline(specs: readonly RequestSpec[], end: StreamEnd | null, sizes: readonly number[]): Promise<void> {
  const prefix = `fz${++cases}x`;
  const model = new ServerModel(prefix);
  const expected = specs.map((spec) => model.reply(spec));
  const ending = end === null ? null : renderEnd(end, LIMITS);
  const requests = specs.map((spec) => render(spec, prefix));
  const client = await server.client();
  try {
    const sending = sendInPieces(client, concat(...requests, ending?.bytes ?? bytes("version\r\n")), sizes);
    // A fatal request may close the connection before the bytes after it are sent.
    await watchdog(ending === null ? sending : sending.catch(expectClosed), () => "sending the requests");
    for (const [i, reply] of expected.entries()) {
      const what = `request ${i} ${show(requests[i]!)}`;
      await watchdog(expectReply(client, reply, what), () => `${what}, expecting ${expectation(reply)}; unread: ${JSON.stringify(client.unread.slice(0, 300))}`);
    }
    const last = await watchdog(client.readLine(), () => "the last reply");
    if (ending === null) expect(last).toMatch(/^VERSION /);
    else {
      expect(last).toBe(ending.reply);
      await watchdog(client.closed, () => "closing the connection after a fatal request");
    }
  } finally {
    client.close();
  }
  await watchdog(deleteQueues(Array.from({ length: VALID_SLOTS }, (_, slot) => queueName(prefix, slot))), () => "deleting the queues");
  await watchdog(expectServerWell(), () => "a new connection's version");
}

const REPLY_LINE = /^(STORED|NOT_STORED|DELETED|END|ERROR|Flushed all queues\.|Reloaded config\.|\d+|(CLIENT|SERVER)_ERROR .*|VERSION \S+|STAT \S+ .*|queue '.*' \{|  \S+=.*|\})$/;

/** Why `data` is not a run of whole replies (a last one cut short is allowed: the client left), or null. */
function malformedReplies(data: Uint8Array): string | null {
  const all = Buffer.from(data);
  let at = 0;
  while (at < all.length) {
    const newline = all.indexOf("\r\n", at);
    if (newline === -1) return null;
    const line = all.toString("latin1", at, newline);
    at = newline + 2;
    const value = /^VALUE \S+ \d+ (\d+)( \d+)?$/.exec(line);
    if (value !== null) {
      const end = at + Number(value[1]);
      if (end + 2 > all.length) return null;
      if (all.toString("latin1", end, end + 2) !== "\r\n") return `VALUE data not followed by \\r\\n at ${end}`;
      at = end + 2;
    } else if (!REPLY_LINE.test(line)) {
      return `not a reply: ${JSON.stringify(line.slice(0, 200))}`;
    }
  }
  return null;
}

async function junkCase(stream: Uint8Array, sizes: readonly number[]): Promise<void> {
  cases++;
  const client = await server.client();
  // The server may close the connection (a fatal request) before all of it is sent.
  await watchdog(sendInPieces(client, stream, sizes).catch(expectClosed), () => `sending junk ${show(stream)}`);
  client.close();
  const received = await watchdog(client.rest(), () => `closing after junk ${show(stream)}`);
  const problem = malformedReplies(received);
  if (problem !== null) throw new Error(`${problem}; junk sent: ${show(stream)}`);
  await watchdog(deleteQueues(), () => "deleting the queues");
  await watchdog(expectServerWell(), () => "a new connection's version");
}

const pieces = fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 8 });

const valid = fuzzBudget(400, 40);
test(`pipelined requests, split anywhere: exactly the model's replies, in order (${valid.label})`, async () => {
  const property = fc.asyncProperty(fc.array(request(), { maxLength: 16 }), fc.option(streamEnd, { freq: 6 }), pieces, fuzzCheck(pipeline));
  await assertFuzz(property, valid, "server fuzz, pipelines");
}, valid.timeoutMs);

const anyJunk = fuzzBudget(400, 30);
test(`junk: well-formed replies, the server stays up and answering, memory bounded (${anyJunk.label})`, async () => {
  const property = fc.asyncProperty(junk("fzj"), pieces, fuzzCheck(junkCase));
  await assertFuzz(property, anyJunk, "server fuzz, junk");
}, anyJunk.timeoutMs);
