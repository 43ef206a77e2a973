/**
 * Driving a Kestrel server process from a long-running scenario: start it within a time limit,
 * reload its config by command or by SIGHUP, stop it with SIGTERM, drain its queues.
 *
 * Each operation that can go wrong in the server returns what went wrong as one line of text (null
 * when all is well) instead of throwing, so a scenario can list it as a problem and go on; only a
 * server that does not start, or a drain that is refused, throws.
 */
import { ServerProcess, type ServerOptions } from "../../test/helpers/server.ts";
import { exchange, within } from "./client.ts";

const START_MS = 60_000;
const STOP_MS = 20_000;
const RELOAD_MS = 10_000;

/** Starts a server (port 0, loopback) and waits until it listens; throws after START_MS. */
export function startServer(options: ServerOptions): Promise<ServerProcess> {
  return within(ServerProcess.start(options), START_MS, "the server to start");
}

export function hasExited(server: ServerProcess): boolean {
  return server.proc.exitCode !== null || server.proc.signalCode !== null;
}

/** Sends `request` on a new connection and returns the reply, up to an END or error line. */
export function ask(server: ServerProcess, request: string): Promise<string> {
  return exchange(server.port, `${request}\r\n`, (text) => /(^|\n)(END|ERROR|SERVER_ERROR.*|CLIENT_ERROR.*)\r\n$/.test(text));
}

/** `reload` on a connection (the config file was rewritten); what went wrong, or null. */
export async function reloadByCommand(server: { readonly port: number }): Promise<string | null> {
  const reply = await exchange(server.port, "reload\r\n", (text) => text.endsWith("\r\n")).catch((error: Error) => error.message);
  return reply === "Reloaded config.\r\n" ? null : `reload answered ${reply.trim()}`;
}

/** SIGHUP, then the log line saying whether the reload worked; what went wrong, or null. */
export async function reloadBySignal(server: ServerProcess): Promise<string | null> {
  const mark = server.output.length;
  server.proc.kill("SIGHUP");
  const logged = await within(server.waitForLog(/reloaded config|reload failed.*/, mark), RELOAD_MS, "the server to log the reload").catch((error: Error) => [error.message]);
  return logged[0]!.startsWith("reloaded config") ? null : `SIGHUP: ${logged[0]}`;
}

/** SIGTERM; the server must exit with code 0 within STOP_MS (else it is killed). What went wrong, or null. */
export async function stopGracefully(server: ServerProcess): Promise<string | null> {
  server.proc.kill("SIGTERM");
  const code = await within(server.exited(), STOP_MS, "the server to exit").catch(() => null);
  if (code === 0) return null;
  if (code !== null) return `the server exited with code ${code} after SIGTERM`;
  await server.kill9();
  return `the server did not exit within ${STOP_MS / 1000} s of SIGTERM; killed`;
}

/**
 * Plain gets on every queue until a whole round finds nothing (items may move between queues
 * meanwhile, as expired ones do); `onItem` gets each. Throws if a get is refused.
 */
export async function drainAll(server: ServerProcess, queues: readonly string[], onItem: (queue: string, data: Uint8Array) => void): Promise<void> {
  const client = await server.client();
  const take = async (queue: string): Promise<Uint8Array | null> => {
    await client.send(`get ${queue}\r\n`);
    const reply = await client.readGetReply();
    if (reply !== null && "error" in reply) throw new Error(`draining '${queue}': get answered ${reply.error}`);
    return reply?.data ?? null;
  };
  try {
    for (let found = 1; found > 0; ) {
      found = 0;
      for (const queue of queues) {
        for (let data = await take(queue); data !== null; data = await take(queue)) {
          onItem(queue, data);
          found++;
        }
      }
    }
  } finally {
    client.close();
  }
}
