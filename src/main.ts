/**
 * The `kestrel` command line: `kestrel [serve] [options]`, `--help`, `--version`.
 *
 * Exit codes: 0 clean stop, 1 runtime failure (can't listen, can't open queue_path),
 * 2 bad usage or bad config. Every error is one line on stderr.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, defaultConfig, loadConfigFile, type KestrelConfig } from "./config/load.ts";
import { errorText } from "./errors.ts";
import { configureLog, log } from "./log.ts";
import { KestrelServer } from "./server/server.ts";
import { VERSION } from "./version.ts";

const USAGE = `kestrel ${VERSION}: a durable memcache-protocol message queue

usage:
  kestrel [serve] [--config FILE] [--host HOST] [--port PORT] [--data DIR]
  kestrel --help | --version

options:
  --config FILE   config file (default: ./kestrel.toml if present, else embedded defaults)
  --host HOST     listen address (overrides the config's host)
  --port PORT     listen port, 0 for any free port (overrides the config's port)
  --data DIR      queue directory (overrides the config's queue_path)
`;

class UsageError extends Error {}

interface ServeOptions {
  readonly config?: string;
  readonly host?: string;
  readonly port?: string;
  readonly data?: string;
}

function main(argv: string[]): void {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        data: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (error) {
    return fail(2, `${(error as Error).message} (see kestrel --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(USAGE);
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals[0] ?? "serve";
  if (command !== "serve" || positionals.length > 1) return fail(2, `unknown command '${positionals.join(" ")}' (see kestrel --help)`);
  try {
    serve(values);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) return fail(2, error.message);
    fail(1, errorText(error));
  }
}

function readConfig(options: ServeOptions): KestrelConfig {
  const file = options.config ?? (existsSync("kestrel.toml") ? "kestrel.toml" : null);
  if (options.config !== undefined && !existsSync(options.config)) throw new ConfigError(`${options.config}: config file not found`);
  const config = file === null ? defaultConfig() : loadConfigFile(file);
  let port = config.server.port;
  if (options.port !== undefined) {
    port = Number(options.port);
    if (!/^\d+$/.test(options.port) || port > 65535) throw new UsageError(`--port: expected a port number from 0 to 65535, got "${options.port}"`);
  }
  const server = {
    ...config.server,
    port,
    host: options.host ?? config.server.host,
    queuePath: resolve(options.data ?? config.server.queuePath),
  };
  return { ...config, server };
}

function serve(options: ServeOptions): void {
  const config = readConfig(options);
  configureLog(config.server.logLevel, config.server.logFile);
  log.info(config.file === null ? "no config file; using embedded defaults" : `config: ${config.file}`);
  const server = KestrelServer.start(config, { version: VERSION, readConfig: () => readConfig(options) });
  const stop = () => void server.stop();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => server.reload());
  void server.stopped.then(() => process.exit(0));
}

function fail(code: number, message: string): void {
  process.stderr.write(`kestrel: ${message}\n`);
  process.exit(code);
}

main(process.argv.slice(2));
