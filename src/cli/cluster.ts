/**
 * `kestrel cluster --servers A,B,C | --dns NAME [--port N] [--json]`: every server's status and
 * queues, asked of all servers at once over their memcache ports (`status`, then `dump_stats`).
 *
 * The server list is the one the client library would use: `--servers` parsed as its `servers`
 * option (port 22133 when left out), or the A/AAAA records of `--dns` resolved as its `dns`
 * option does (src/client/cluster.ts `systemResolver`), each on `--port` (22133 by default).
 *
 * Invariants: a server that can't be reached or answers wrongly is still listed (marked
 * unreachable, the reason on stderr) and never stops the others being shown; the exit code is 1
 * when any server was unreachable (or the name did not resolve), 0 when every server answered, 2
 * for bad usage. What is printed is in cluster_report.ts.
 */
import { DEFAULT_PORT, endpoint, systemResolver } from "../client/cluster.ts";
import type { Endpoint } from "../client/connection.ts";
import { STATUS_REQUEST, replyText } from "../client/protocol.ts";
import { DUMP_STATS_REQUEST, queueStatsFromLines } from "../client/queue_stats.ts";
import { errorText } from "../errors.ts";
import { clusterJson, clusterTable, type ServerReport } from "./cluster_report.ts";
import { failureText, queryServer, serverArgument, statusFromReply } from "./server_query.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "./usage.ts";

export interface ClusterOptions {
  readonly servers?: string;
  readonly dns?: string;
  readonly port?: string;
  readonly json?: boolean;
}

/** Runs the command; returns the exit code. Throws UsageError. */
export async function clusterCommand(options: ClusterOptions): Promise<number> {
  const servers = await serverList(options);
  if (servers === null) return EXIT_FAILURE;
  const reports = await Promise.all(servers.map(reportOn));
  for (const report of reports) if (report.error !== null) process.stderr.write(`kestrel: ${report.server}: ${report.error}\n`);
  process.stdout.write(options.json ? `${JSON.stringify(clusterJson(reports), null, 2)}\n` : clusterTable(reports));
  return reports.every((report) => report.error === null) ? EXIT_OK : EXIT_FAILURE;
}

/** The servers to ask, or null (after saying why on stderr) when the name does not resolve. */
async function serverList(options: ClusterOptions): Promise<Endpoint[] | null> {
  if ((options.servers === undefined) === (options.dns === undefined)) throw new UsageError("cluster: give --servers A,B,C or --dns NAME (see kestrel --help)");
  if (options.servers !== undefined) {
    if (options.port !== undefined) throw new UsageError("cluster: --port goes with --dns; with --servers, give each address its port");
    const names = options.servers.split(",").filter((name) => name.trim() !== "");
    if (names.length === 0) throw new UsageError("cluster: --servers lists no server");
    return unique(names.map(serverArgument));
  }
  const port = portArgument(options.port);
  try {
    const addresses = await systemResolver(options.dns!);
    if (addresses.length === 0) throw new Error("no A or AAAA record");
    return unique(addresses.map((address) => endpoint(address, port))).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (error) {
    process.stderr.write(`kestrel: cluster: can't resolve ${options.dns}: ${errorText(error)}\n`);
    return null;
  }
}

function portArgument(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`cluster: --port: expected a port number, got '${text}'`);
  return port;
}

function unique(servers: Endpoint[]): Endpoint[] {
  return [...new Map(servers.map((server) => [server.name, server])).values()];
}

/** What one server says. Never throws: a failure is the report's `error`. */
async function reportOn(server: Endpoint): Promise<ServerReport> {
  try {
    const replies = await queryServer(server, [
      { bytes: STATUS_REQUEST, shape: "line" },
      { bytes: DUMP_STATS_REQUEST, shape: "lines" },
    ]);
    const dump = replies[1]!;
    if (dump.kind !== "lines") throw new Error(`unexpected reply to dump_stats: ${replyText(dump)}`);
    return { server: server.name, status: statusFromReply(replies[0]!), queues: queueStatsFromLines(dump.lines), error: null };
  } catch (error) {
    return { server: server.name, status: null, queues: null, error: failureText(error) };
  }
}
