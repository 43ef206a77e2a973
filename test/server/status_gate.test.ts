/**
 * The server status as the command layer applies it (commands/), through the memcache front end
 * and a real Connection on real queues: which sets and gets each status refuses, what close and abort
 * still do, blocking gets ended by a change to quiescent, and the `status` command itself.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { ServerStatusName } from "../../src/config/schema.ts";
import { Connection } from "../../src/server/connection.ts";
import { memcache } from "../../src/server/memcache/front_end.ts";
import { bytes } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";
import { serverContext } from "../helpers/server_context.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const step of cleanup.toReversed()) step();
  cleanup = [];
});

/** A server context at `status` with queue `q` holding `initial`; `client()` opens a connection to it. */
function serverAt(status: ServerStatusName, initial: readonly string[] = []) {
  const { ctx, queues } = serverContext(configFor(tempDir(), `default_status = "${status}"\n`));
  for (const item of initial) queues.add("q", bytes(item), 0, Date.now());
  cleanup.push(() => queues.close());
  const client = () => {
    const socket = new RecordingSocket();
    const connection = new Connection(socket, ctx, memcache, 0, 1 << 20);
    cleanup.push(() => connection.onClose());
    let seen = 0;
    /** Sends `request` and resolves with the replies written after it, once they end with `until`. */
    const send = async (request: string, until: RegExp = /\r\n$/): Promise<string> => {
      connection.onData(bytes(request));
      while (!until.test(socket.output.slice(seen))) await nextTurn();
      const reply = socket.output.slice(seen);
      seen = socket.output.length;
      return reply;
    };
    return { send, socket };
  };
  const items = (name = "q") => queues.get(name)?.stats().items ?? 0;
  const open = (name = "q") => queues.get(name)?.stats().openTransactions ?? 0;
  return { ctx, queues, client, items, open };
}

describe("sets", () => {
  test("readonly and quiescent refuse them with SERVER_ERROR, add nothing and keep the connection; up and writeavoid take them", async () => {
    for (const status of ["readonly", "quiescent"] as const) {
      const server = serverAt(status);
      const c = server.client();
      expect(await c.send("set q 0 0 1\r\nx\r\n")).toBe(`SERVER_ERROR server is ${status}: sets are refused\r\n`);
      expect(await c.send("set q 0 0 1 noreply\r\nx\r\nversion\r\n")).toBe("VERSION test\r\n");
      expect(server.items()).toBe(0);
      expect(c.socket.ended).toBe(false);
    }
    for (const status of ["up", "writeavoid"] as const) {
      const server = serverAt(status);
      expect(await server.client().send("set q 0 0 1\r\nx\r\n")).toBe("STORED\r\n");
      expect(server.items()).toBe(1);
    }
  });

  test("a fanout set is refused whole: no child gets the item either", async () => {
    const server = serverAt("up");
    const c = server.client();
    expect(await c.send("get q+child\r\n")).toBe("END\r\n");
    server.ctx.status.change("readonly", "test");
    expect(await c.send("set q 0 0 1\r\nx\r\n")).toStartWith("SERVER_ERROR");
    expect([server.items("q"), server.items("q+child")]).toEqual([0, 0]);
  });
});

describe("gets", () => {
  test("readonly serves every kind: take, open, close, abort, peek", async () => {
    const server = serverAt("readonly", ["a", "b", "c"]);
    const c = server.client();
    expect(await c.send("get q/peek\r\n", /END\r\n$/)).toBe("VALUE q/peek 0 1\r\na\r\nEND\r\n");
    expect(await c.send("get q\r\n", /END\r\n$/)).toBe("VALUE q 0 1\r\na\r\nEND\r\n");
    expect(await c.send("get q/open\r\n", /END\r\n$/)).toBe("VALUE q/open 0 1\r\nb\r\nEND\r\n");
    expect(await c.send("get q/abort\r\n")).toBe("END\r\n");
    expect(await c.send("get q/close/open\r\n", /END\r\n$/)).toBe("VALUE q/close/open 0 1\r\nb\r\nEND\r\n");
    expect(await c.send("get q/close\r\n")).toBe("END\r\n");
    expect(server.items()).toBe(1);
  });

  test("quiescent refuses take, open, peek and blocking gets with SERVER_ERROR; nothing is handed out", async () => {
    const server = serverAt("quiescent", ["a"]);
    const c = server.client();
    for (const key of ["q", "q/open", "q/peek", "q/t=60000", "q/open/t=60000", "q/close/open", "q other"]) {
      expect(await c.send(`get ${key}\r\n`)).toBe("SERVER_ERROR server is quiescent: gets are refused\r\n");
    }
    expect(await c.send("gets q\r\n")).toStartWith("SERVER_ERROR");
    expect([server.items(), server.open()]).toEqual([1, 0]);
    expect(await c.send("version\r\n")).toBe("VERSION test\r\n");
  });

  test("quiescent still lets a client close or abort the item it holds, alone or with a refused open", async () => {
    const server = serverAt("up", ["a", "b", "c"]);
    const [closer, aborter, both] = [server.client(), server.client(), server.client()];
    for (const [c, item] of [[closer, "a"], [aborter, "b"], [both, "c"]] as const) {
      expect(await c.send("get q/open\r\n", /END\r\n$/)).toBe(`VALUE q/open 0 1\r\n${item}\r\nEND\r\n`);
    }
    server.ctx.status.change("quiescent", "test");
    expect(server.open()).toBe(3);
    expect(await closer.send("get q/close\r\n")).toBe("END\r\n");
    expect(await aborter.send("get q/abort\r\n")).toBe("END\r\n");
    // The close is carried out; the open that follows it is refused.
    expect(await both.send("get q/close/open\r\n")).toBe("SERVER_ERROR server is quiescent: gets are refused\r\n");
    expect([server.items(), server.open()]).toEqual([1, 0]);
    server.ctx.status.change("up", "test");
    expect(await closer.send("get q\r\n", /END\r\n$/)).toBe("VALUE q 0 1\r\nb\r\nEND\r\n");
  });

  test("a blocking get waiting when the server becomes quiescent is refused, and what its earlier keys took goes back", async () => {
    const server = serverAt("up", ["a", "b"]);
    const waiter = server.client();
    const pending = waiter.send("get q q/open empty/t=60000\r\n");
    await nextTurn();
    expect(waiter.socket.output).toBe("");
    expect([server.items(), server.open()]).toEqual([0, 1]);
    expect(server.queues.get("empty")!.stats().waiters).toBe(1);
    server.ctx.status.change("quiescent", "test");
    expect(await pending).toBe("SERVER_ERROR server is quiescent: gets are refused\r\n");
    expect([server.items(), server.open(), server.queues.get("empty")!.stats().waiters]).toEqual([2, 0, 0]);
    server.ctx.status.change("up", "test");
    expect(await waiter.send("get q\r\n", /END\r\n$/)).toBe("VALUE q 0 1\r\na\r\nEND\r\n");
    expect(await waiter.send("get q\r\n", /END\r\n$/)).toBe("VALUE q 0 1\r\nb\r\nEND\r\n");
  });

  test("a blocking get is still served when the server becomes readonly", async () => {
    const server = serverAt("up");
    const waiter = server.client();
    const pending = waiter.send("get q/t=60000\r\n", /END\r\n$/);
    await nextTurn();
    server.ctx.status.change("readonly", "test");
    server.ctx.status.change("up", "test");
    expect(await server.client().send("set q 0 0 1\r\nx\r\n")).toBe("STORED\r\n");
    expect(await pending).toBe("VALUE q/t=60000 0 1\r\nx\r\nEND\r\n");
  });
});

test("flush, delete and the expiry commands still run on a quiescent server: they only take items away", async () => {
  const server = serverAt("quiescent", ["a", "b"]);
  const c = server.client();
  expect(await c.send("flush_expired q\r\n")).toBe("0\r\n");
  expect(await c.send("flush q\r\n")).toBe("END\r\n");
  expect(server.items()).toBe(0);
  expect(await c.send("delete q\r\n")).toBe("DELETED\r\n");
  expect(server.queues.get("q")).toBeUndefined();
  expect(await c.send("flush_all\r\n")).toBe("Flushed all queues.\r\n");
});

describe("the status command", () => {
  test("replies the status in upper case; `status <new>` in any case sets it and replies END; stats shows it", async () => {
    const server = serverAt("up");
    const c = server.client();
    expect(await c.send("status\r\n")).toBe("UP\r\n");
    for (const [request, shown] of [
      ["ReadOnly", "READONLY"],
      ["QUIESCENT", "QUIESCENT"],
      ["writeavoid", "WRITEAVOID"],
      ["up", "UP"],
      ["readonly", "READONLY"],
    ] as const) {
      expect(await c.send(`status ${request}\r\n`)).toBe("END\r\n");
      expect(await c.send("status\r\n")).toBe(`${shown}\r\n`);
    }
    expect(await c.send("STATUS\r\n")).toBe("READONLY\r\n");
    expect(await c.send("stats\r\n", /END\r\n$/)).toContain("STAT status readonly\r\n");
  });

  test("an unknown status, or more than one, is a CLIENT_ERROR that changes nothing", async () => {
    const server = serverAt("writeavoid");
    const c = server.client();
    expect(await c.send("status down\r\n")).toBe("CLIENT_ERROR unknown status 'down' (expected up, writeavoid, readonly, quiescent)\r\n");
    expect(await c.send("status up now\r\n")).toBe("CLIENT_ERROR usage: status [up|writeavoid|readonly|quiescent]\r\n");
    expect(await c.send("status\r\n")).toBe("WRITEAVOID\r\n");
    expect(c.socket.ended).toBe(false);
  });
});
