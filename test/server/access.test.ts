import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configureLog } from "../../src/log.ts";
import { ADMIN_COMMANDS, exposureWarning, isLoopbackAddress } from "../../src/server/access.ts";
import { Connection } from "../../src/server/connection.ts";
import { memcache } from "../../src/server/memcache/front_end.ts";
import { bytes } from "../helpers/bytes.ts";
import { configFor } from "../helpers/config.ts";
import { RecordingSocket } from "../helpers/recording_socket.ts";
import { serverContext } from "../helpers/server_context.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe("isLoopbackAddress", () => {
  test("127.0.0.0/8 and ::1, in any spelling, including IPv4 mapped into IPv6", () => {
    for (const address of ["127.0.0.1", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:7f12:3456", "localhost"]) {
      expect(isLoopbackAddress(address)).toBe(true);
    }
  });

  test("anything else is not", () => {
    for (const address of ["10.1.2.3", "0.0.0.0", "::", "128.0.0.1", "::ffff:10.1.2.3", "::ffff:8000:1", "fe80::1%eth0", "::2", "myhost", "1127.0.0.1", ""]) {
      expect(isLoopbackAddress(address)).toBe(false);
    }
  });
});

test("listening beyond loopback with no auth file is warned about at start", () => {
  expect(exposureWarning("0.0.0.0", 22133, false)).toBe(
    "listening on 0.0.0.0 with no auth_file: anyone who can reach port 22133 can read, take and add items on every queue (docs/security.md)",
  );
  expect(exposureWarning("10.0.4.2", 22133, false)).toStartWith("listening on 10.0.4.2 with no auth_file");
  expect(exposureWarning("::", 22133, false)).not.toBeNull();
  expect(exposureWarning("0.0.0.0", 22133, true)).toBeNull();
  expect(exposureWarning("127.0.0.1", 22133, false)).toBeNull();
  expect(exposureWarning("::1", 22133, false)).toBeNull();
});

/** The commands anyone who may connect (and has authenticated) may run. */
const ORDINARY_COMMANDS = ["get", "gets", "monitor", "confirm", "flush_expired", "flush_all_expired", "stats", "dump_stats", "dump_config", "version", "quit"];

test("every command the server knows is either administrative or one anyone may run", () => {
  // A new command must be put on one side: in ADMIN_COMMANDS (gated) or in the list above.
  const source = readFileSync(join(import.meta.dir, "../../src/server/memcache/execute.ts"), "utf8");
  const dispatch = /\nfunction executeLine\([^]*?\n}\n/.exec(source)?.[0];
  if (dispatch === undefined) throw new Error("executeLine not found in src/server/memcache/execute.ts: point this test at the command dispatch");
  const known = [...dispatch.matchAll(/case "([^"]+)":/g)].map((match) => match[1]!);
  expect(known.length).toBeGreaterThan(10);
  expect(known.filter((command) => !ADMIN_COMMANDS.has(command) && !ORDINARY_COMMANDS.includes(command))).toEqual([]);
  // And the gate names no command that has gone away.
  expect([...ADMIN_COMMANDS].filter((command) => !known.includes(command))).toEqual([]);
});

const ADMIN_REQUESTS = "flush q\r\nflush_all\r\ndelete q\r\nreload\r\nstatus readonly\r\nshutdown\r\nquit\r\n";
const refusals = (peer: string) =>
  ["flush", "flush_all", "delete", "reload", "status", "shutdown"].map((command) => `CLIENT_ERROR ${command} is not allowed from ${peer}\r\n`).join("");

/** Turns of the event loop until the connection has closed its socket (after `quit` or `shutdown`). */
async function untilEnded(socket: RecordingSocket): Promise<void> {
  while (!socket.ended) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Sends ADMIN_REQUESTS from `peer` under `policy`; returns what came back and what they did. */
async function sendAdminCommands(policy: string, peer: string) {
  const { ctx, calls, queues } = serverContext(configFor(tempDir(), `admin_commands = "${policy}"\n`));
  queues.add("q", bytes("x"), 0, Date.now());
  const socket = new RecordingSocket(peer);
  const connection = new Connection(socket, ctx, memcache, 0, 1024);
  connection.onData(bytes(ADMIN_REQUESTS));
  await untilEnded(socket);
  const result = { output: socket.output, calls, queueLeft: queues.get("q") !== undefined };
  connection.onClose();
  queues.close();
  return result;
}

describe("admin_commands", () => {
  test('"loopback" (the default) refuses every administrative command from another machine and changes nothing', async () => {
    expect(configFor(tempDir()).server.adminCommands).toBe("loopback");
    for (const peer of ["10.1.2.3", "::ffff:192.168.0.7", "2001:db8::1"]) {
      const { output, calls, queueLeft } = await sendAdminCommands("loopback", peer);
      expect(output).toBe(refusals(peer));
      expect(calls).toEqual({ shutdown: 0, reload: 0 });
      expect(queueLeft).toBe(true);
    }
  });

  test('"loopback" runs them for a client on this machine', async () => {
    for (const peer of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      const { output, calls, queueLeft } = await sendAdminCommands("loopback", peer);
      expect(output).toBe("END\r\nFlushed all queues.\r\nDELETED\r\nReloaded config.\r\nEND\r\n");
      expect(calls).toEqual({ shutdown: 1, reload: 1 });
      expect(queueLeft).toBe(false);
    }
  });

  test('"all" runs them from anywhere; "none" from nowhere', async () => {
    expect((await sendAdminCommands("all", "10.1.2.3")).calls).toEqual({ shutdown: 1, reload: 1 });
    const none = await sendAdminCommands("none", "127.0.0.1");
    expect(none.output).toBe(refusals("127.0.0.1"));
    expect(none.calls).toEqual({ shutdown: 0, reload: 0 });
    expect(none.queueLeft).toBe(true);
  });

  test("each one is logged with the peer's address: at info when it runs, at warn when it is refused", async () => {
    const logFile = join(tempDir(), "log");
    configureLog("info", logFile);
    try {
      await sendAdminCommands("all", "192.0.2.10");
      await sendAdminCommands("loopback", "2001:db8::77");
    } finally {
      configureLog("info", null);
    }
    const lines = readFileSync(logFile, "utf8");
    for (const request of ["flush q", "flush_all", "delete q", "reload", "status readonly", "shutdown"]) {
      expect(lines).toContain(`INFO  admin command '${request}' from 192.0.2.10\n`);
      expect(lines).toContain(`WARN  refused admin command '${request}' from 2001:db8::77 (admin_commands = "loopback")\n`);
    }
    expect(lines).not.toContain("quit");
  });

  test("reading the status is not administrative: any peer may; changing it is", async () => {
    const { ctx, queues } = serverContext(configFor(tempDir(), 'admin_commands = "none"\n'));
    const socket = new RecordingSocket("10.1.2.3");
    const connection = new Connection(socket, ctx, memcache, 0, 1024);
    connection.onData(bytes("status\r\nstatus quiescent\r\nstatus\r\nquit\r\n"));
    await untilEnded(socket);
    expect(socket.output).toBe("UP\r\nCLIENT_ERROR status is not allowed from 10.1.2.3\r\nUP\r\n");
    expect(ctx.status.current).toBe("up");
    connection.onClose();
    queues.close();
  });

  test("a refused command with noreply is not answered; other commands are not affected", async () => {
    const { ctx, queues } = serverContext(configFor(tempDir()));
    queues.add("q", bytes("x"), 0, Date.now());
    const socket = new RecordingSocket("10.1.2.3");
    const connection = new Connection(socket, ctx, memcache, 0, 1024);
    connection.onData(bytes("delete q noreply\r\nflush q noreply\r\nflush_all noreply\r\nget q/peek\r\nversion\r\nquit\r\n"));
    await untilEnded(socket);
    expect(socket.output).toBe("VALUE q/peek 0 1\r\nx\r\nEND\r\nVERSION test\r\n");
    connection.onClose();
    queues.close();
  });
});
