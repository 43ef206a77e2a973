/**
 * `kestrel status HOST:PORT [up|writeavoid|readonly|quiescent]`: show or set one server's status
 * over its memcache port.
 *
 * Without a status it prints the server's status, in lower case as the config and the admin HTTP
 * port write it (`up`, `writeavoid`, `readonly`, `quiescent`), to stdout. With one (any case) it
 * sends `status <new>`, then `status` on the same connection, and prints what the server says is in
 * force after the change, so the line printed is the server's word, not an echo of the argument.
 *
 * Exit codes (usage.ts): 0 done; 1 the server could not be reached or did not answer in time, or
 * refused (admin_commands, an auth_file, a status it could not save); 2 bad usage (no address, a
 * bad address, an unknown status, which is refused before connecting). Every failure is one line
 * on stderr naming the server.
 */
import type { Endpoint } from "../client/connection.ts";
import { STATUS_REQUEST, parseStatus, replyText, type Reply, type ServerStatus } from "../client/protocol.ts";
import { failureText, queryServer, serverArgument, statusFromReply, type Request } from "./server_query.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "./usage.ts";

const STATUS_NAMES = "up, writeavoid, readonly or quiescent";

/** Runs the command with its positional arguments; returns the exit code. Throws UsageError. */
export async function statusCommand(args: readonly string[]): Promise<number> {
  if (args.length < 1 || args.length > 2) throw new UsageError("status: usage: kestrel status HOST:PORT [up|writeavoid|readonly|quiescent]");
  const server = serverArgument(args[0]!);
  const wanted = args[1] === undefined ? null : statusArgument(args[1]);
  try {
    process.stdout.write(`${await askStatus(server, wanted)}\n`);
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`kestrel: ${server.name}: ${failureText(error)}\n`);
    return EXIT_FAILURE;
  }
}

function statusArgument(text: string): ServerStatus {
  const status = parseStatus(text);
  if (status === null) throw new UsageError(`status: unknown status '${text}' (expected ${STATUS_NAMES})`);
  return status;
}

/** Sets `wanted` first when given; returns the status in force. Throws with the server's refusal. */
async function askStatus(server: Endpoint, wanted: ServerStatus | null): Promise<ServerStatus> {
  const requests: Request[] = [{ bytes: STATUS_REQUEST, shape: "line" }];
  if (wanted !== null) requests.unshift({ bytes: new TextEncoder().encode(`status ${wanted}\r\n`), shape: "line" });
  const replies = await queryServer(server, requests);
  if (wanted !== null) checkChanged(replies[0]!, wanted);
  return statusFromReply(replies.at(-1)!);
}

function checkChanged(reply: Reply, wanted: ServerStatus): void {
  if (reply.kind === "line" && reply.line === "END") return;
  throw new Error(`status not set to '${wanted}': ${replyText(reply)}`);
}
