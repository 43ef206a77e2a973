import { afterEach, expect, test } from "bun:test";
import { Pipeline, expectStored } from "../../bench/lib/pipeline.ts";

let servers: Array<{ stop(closeActive: boolean): void }> = [];
afterEach(() => {
  for (const server of servers) server.stop(true);
  servers = [];
});

/** A loopback server that answers every chunk it receives with `reply(chunk)`. */
function answering(reply: (chunk: string) => string): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket, chunk) => void socket.write(reply(chunk.toString("latin1"))) } });
  servers.push(server);
  return server.port;
}

const sets = (n: number) => Buffer.from("set q 0 0 1\r\nx\r\n".repeat(n), "latin1");

/** Bytes of one request made by `sets`. */
const SET_BYTES = sets(1).length;

test("a batch resolves once every request has its reply", async () => {
  let received = 0;
  let answered = 0;
  const port = answering((chunk) => {
    received += chunk.length;
    const due = Math.floor(received / SET_BYTES) - answered;
    answered += due;
    return "STORED\r\n".repeat(due);
  });
  const pipeline = new Pipeline("test", new Uint8Array(0), expectStored);
  await pipeline.connect(port);
  await pipeline.send(sets(3), 3);
  await pipeline.send(sets(1), 1);
  pipeline.close();
});

test("a reply the check refuses fails the batch and every later one", async () => {
  const port = answering(() => "NOT_STORED\r\n");
  const pipeline = new Pipeline("test", new Uint8Array(0), expectStored);
  await pipeline.connect(port);
  await expect(pipeline.send(sets(1), 1)).rejects.toThrow("test: set answered unexpected: NOT_STORED");
  await expect(pipeline.send(sets(1), 1)).rejects.toThrow("NOT_STORED");
  pipeline.close();
});

test("a batch left unanswered fails after the reply timeout", async () => {
  const port = answering(() => "");
  const pipeline = new Pipeline("test", new Uint8Array(0), expectStored, 50);
  await pipeline.connect(port);
  await expect(pipeline.send(sets(2), 2)).rejects.toThrow("test: no reply to a batch of 2 within 0.05 s");
  pipeline.close();
});
