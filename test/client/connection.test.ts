import { afterEach, expect, test } from "bun:test";
import { type Server, type Socket, createServer } from "node:net";
import { endpoint } from "../../src/client/cluster.ts";
import { Connection } from "../../src/client/connection.ts";
import { ConnectionError, ProtocolError, TimeoutError } from "../../src/client/errors.ts";
import { STATUS_REQUEST, getRequest } from "../../src/client/protocol.ts";

const servers: Server[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A server that hands each new connection to `onSocket`, and a Connection to it. */
async function connect(onSocket: (socket: Socket) => void): Promise<Connection> {
  const server = createServer(onSocket);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Connection.open(endpoint("127.0.0.1", (server.address() as { port: number }).port), 1000);
}

/** Answers every request line with the next of `replies`, all at once when `batch` lines have come. */
function scripted(replies: readonly string[], batch = 1) {
  return (socket: Socket) => {
    let lines = 0;
    socket.on("data", (chunk: Buffer) => {
      lines += chunk.toString().split("\r\n").length - 1;
      if (lines >= batch) socket.write(replies.join(""));
    });
  };
}

test("pipelined requests get their replies in order, however the replies are split", async () => {
  const connection = await connect(scripted(["UP\r\n", "VALUE q 0 2\r\nhi\r\nEND\r\n", "END\r\n"], 3));
  const replies = await Promise.all([
    connection.request(STATUS_REQUEST, "line", 1000),
    connection.request(getRequest("q"), "values", 1000),
    connection.request(getRequest("q"), "values", 1000),
  ]);
  expect(replies.map((reply) => reply.kind)).toEqual(["line", "values", "values"]);
  expect(replies[1]?.kind === "values" && Buffer.from(replies[1].values[0]!.data).toString()).toBe("hi");
  expect(connection.inFlight).toBe(0);
  connection.close();
});

test("a reply that does not parse breaks the connection with a ProtocolError naming the server", async () => {
  const connection = await connect(scripted(["VALUE q 0 2\r\nhiXX"]));
  const error = await connection.request(getRequest("q"), "values", 1000).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as Error).message).toStartWith(`kestrel ${connection.endpoint.name}: `);
  expect(connection.usable).toBe(false);
  await expect(connection.request(STATUS_REQUEST, "line", 1000)).rejects.toBe(error);
});

test("a late reply breaks the connection with a TimeoutError; every request waiting fails with it", async () => {
  const connection = await connect(() => {});
  const first = connection.request(STATUS_REQUEST, "line", 50);
  const second = connection.request(STATUS_REQUEST, "line", 60_000);
  const errors = await Promise.all([first.catch((error: unknown) => error), second.catch((error: unknown) => error)]);
  expect(errors[0]).toBeInstanceOf(TimeoutError);
  expect(errors[1]).toBe(errors[0]);
  expect(connection.usable).toBe(false);
});

test("the server closing the connection fails what is in flight; a reply nobody asked for breaks it", async () => {
  const closing = await connect((socket) => socket.on("data", () => socket.end()));
  await expect(closing.request(STATUS_REQUEST, "line", 1000)).rejects.toBeInstanceOf(ConnectionError);
  const chatty = await connect((socket) => socket.write("STORED\r\n"));
  const broken = Promise.withResolvers<Error>();
  chatty.onBroken = broken.resolve;
  expect((await broken.promise).message).toContain("a reply nobody asked for");
});

test("an abort signal closes the connection and rejects the request", async () => {
  const connection = await connect(() => {});
  const stop = new AbortController();
  const waiting = connection.request(getRequest("q", { waitMs: 60_000 }), "values", 61_000, stop.signal);
  stop.abort();
  await expect(waiting).rejects.toThrow("aborted");
  expect(connection.usable).toBe(false);
});

test("connecting to a port nobody listens on is a ConnectionError naming the server", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const error = await Connection.open(endpoint("127.0.0.1", port), 1000).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ConnectionError);
  expect((error as Error).message).toStartWith(`kestrel 127.0.0.1:${port}: could not connect`);
});
