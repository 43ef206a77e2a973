/**
 * The `kestrel` command line: parses argv and dispatches to a command.
 *
 *   kestrel [serve] [--config FILE] [--host HOST] [--port PORT] [--data DIR]
 *   kestrel setup [--config FILE]
 *   kestrel qdump [--verify | --repair] FILE...
 *   kestrel status HOST:PORT [up|writeavoid|readonly|quiescent]
 *   kestrel cluster (--servers A,B,C | --dns NAME [--port N]) [--json]
 *   kestrel drain --admin HOST:PORT --timeout SECONDS
 *   kestrel --help | --version
 *
 * Every error is one line on stderr (or in the log); exit codes are in cli/usage.ts. An error that
 * escapes every handler (a bug) ends the process with one log line and exit 1, never a stack trace
 * or the (minified, in the binary) source around it.
 */
import { parseArgs } from "node:util";
import { clusterCommand } from "./cli/cluster.ts";
import { drainCommand } from "./cli/drain.ts";
import { qdump } from "./cli/qdump.ts";
import { DEFAULT_CONFIG, serve } from "./cli/serve.ts";
import { setupOnTerminal } from "./cli/setup.ts";
import { statusCommand } from "./cli/status.ts";
import { EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, fail } from "./cli/usage.ts";
import { ConfigError } from "./config/load.ts";
import { errorText } from "./errors.ts";
import { log } from "./log.ts";
import { VERSION } from "./version.ts";

const USAGE = `kestrel ${VERSION}: a durable memcache-protocol message queue

usage:
  kestrel [serve] [--config FILE] [--host HOST] [--port PORT] [--data DIR]
  kestrel setup [--config FILE]
  kestrel qdump [--verify | --repair] FILE...
  kestrel status HOST:PORT [up|writeavoid|readonly|quiescent]
  kestrel cluster (--servers A,B,C | --dns NAME [--port N]) [--json]
  kestrel drain --admin HOST:PORT --timeout SECONDS
  kestrel --help | --version

serve (the default):
  --config FILE   config file (default: ./kestrel.toml); if there is none and this is a
                  terminal, a short setup writes one first; otherwise embedded defaults
  --host HOST     listen address (overrides the config's host)
  --port PORT     listen port, 0 for any free port (overrides the config's port)
  --data DIR      queue directory (overrides the config's queue_path)

setup: ask the first-run questions again and write the config file (default ./kestrel.toml)

qdump: list the records of journal files (either format) and any damage
  --verify        only check; exit 1 and name the offset of the first damage
  --repair        recover the file as start-up would (quarantine damage, cut or rewrite);
                  not on a journal a running server is using

status: print a server's status (up, writeavoid, readonly, quiescent; lower case), asked over
  its memcache port (22133 if HOST has no port); with a status, set it first (admin_commands
  must admit this host) and print the status then in force

cluster: every server's status and, per queue, items, open transactions and age (ms)
  --servers A,B,C   the servers, host:port each (port 22133 when left out)
  --dns NAME        the servers are NAME's A/AAAA records (a Kubernetes headless Service)
  --port N          their memcache port with --dns (default 22133)
  --json            one JSON document instead of the table (shape in docs/operations.md)

drain: empty a server before it stops (the Kubernetes preStop hook), over its admin HTTP port:
  set readonly if it is up or writeavoid, wait until no queue has items or open reads, put the
  status found back; exit 0 drained, 1 timed out or unreachable
  --admin HOST:PORT the server's admin HTTP address (admin_host, admin_port)
  --timeout SECONDS how long to wait for the queues to empty
  A server with an admin_token wants it in the environment variable KESTREL_ADMIN_TOKEN.

exit codes: 0 done, 1 failed (a server unreachable or refusing, damage found, drain timed
  out), 2 bad usage or config
`;

const OPTIONS = {
  config: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  data: { type: "string" },
  verify: { type: "boolean" },
  repair: { type: "boolean" },
  servers: { type: "string" },
  dns: { type: "string" },
  json: { type: "boolean" },
  admin: { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    // node:util's message can run over several lines (with advice about dashes): the first says what is wrong.
    return fail(EXIT_USAGE, `${(error as Error).message.split("\n")[0]} (see kestrel --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(USAGE);
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const [command = "serve", ...rest] = positionals;
  try {
    if (command === "serve" && rest.length === 0) return await serve(onlyOptions(values, ["config", "host", "port", "data"], command));
    if (command === "setup" && rest.length === 0) return await runSetupCommand(onlyOptions(values, ["config"], command).config);
    if (command === "qdump") return runQdump(rest, onlyOptions(values, ["verify", "repair"], command));
    if (command === "status" && onlyOptions(values, [], command)) return process.exit(await statusCommand(rest));
    if (command === "cluster" && rest.length === 0) return process.exit(await clusterCommand(onlyOptions(values, ["servers", "dns", "port", "json"], command)));
    if (command === "drain" && rest.length === 0) {
      return process.exit(await drainCommand({ ...onlyOptions(values, ["admin", "timeout"], command), token: process.env.KESTREL_ADMIN_TOKEN }));
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) return fail(EXIT_USAGE, error.message);
    return fail(EXIT_FAILURE, errorText(error));
  }
  fail(EXIT_USAGE, `unknown command '${positionals.join(" ")}' (see kestrel --help)`);
}

/** `values`, after checking that it holds only options the command takes. */
function onlyOptions<T extends object>(values: T, allowed: readonly string[], command: string): T {
  const stray = Object.keys(values).find((name) => !allowed.includes(name));
  if (stray !== undefined) throw new UsageError(`--${stray} is not an option of ${command} (see kestrel --help)`);
  return values;
}

async function runSetupCommand(config: string | undefined): Promise<void> {
  if (!process.stdin.isTTY) throw new UsageError("setup asks questions: run it on a terminal");
  process.exit((await setupOnTerminal(config ?? DEFAULT_CONFIG)) ? EXIT_OK : EXIT_CANCELLED);
}

function runQdump(files: string[], values: { verify?: boolean; repair?: boolean }): void {
  if (files.length === 0) throw new UsageError("qdump: name at least one journal file (see kestrel --help)");
  if (values.verify && values.repair) throw new UsageError("qdump: --verify and --repair don't go together");
  process.exit(qdump(files, values.verify ? "verify" : values.repair ? "repair" : "dump"));
}

/** The last resort for an error no handler caught: one line where the log goes, exit 1. */
function exitOnUncaught(error: unknown): never {
  log.error(`internal error, exiting: ${errorText(error)}`);
  process.exit(EXIT_FAILURE);
}

process.on("uncaughtException", exitOnUncaught);
process.on("unhandledRejection", exitOnUncaught);
await main(process.argv.slice(2));
