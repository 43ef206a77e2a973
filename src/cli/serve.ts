/**
 * `kestrel [serve]`: load the config (file or embedded defaults, then command-line overrides),
 * start the server, and wire signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads.
 *
 * First run: with no config file and a terminal on stdin and stdout, the setup asks a few
 * questions and writes one first. Without a terminal (systemd, CI) it never asks.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, defaultConfig, loadConfigFile, type KestrelConfig } from "../config/load.ts";
import { errorText } from "../errors.ts";
import { configureLog, log } from "../log.ts";
import { KestrelServer } from "../server/server.ts";
import { VERSION } from "../version.ts";
import { tuneAllocator } from "./allocator_tuning.ts";
import { setupOnTerminal } from "./setup.ts";
import { EXIT_CANCELLED, UsageError } from "./usage.ts";

/** The config file looked for (and written by the first-run setup) when --config isn't given. */
export const DEFAULT_CONFIG = "kestrel.toml";

export interface ServeOptions {
  readonly config?: string;
  readonly host?: string;
  readonly port?: string;
  readonly data?: string;
}

export function readConfig(options: ServeOptions): KestrelConfig {
  if (options.config !== undefined && !existsSync(options.config)) throw new ConfigError(`${options.config}: config file not found`);
  const file = options.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : null);
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

/** Starts serving; the process exits 0 once the server has stopped (130 if the setup was cancelled). */
export async function serve(options: ServeOptions): Promise<void> {
  tuneAllocator();
  const configPath = options.config ?? DEFAULT_CONFIG;
  if (!existsSync(configPath) && process.stdin.isTTY && process.stdout.isTTY) {
    if (!(await setupOnTerminal(configPath))) process.exit(EXIT_CANCELLED);
    options = { ...options, config: configPath };
  }
  const config = readConfig(options);
  configureLog(config.server.logLevel, config.server.logFile);
  log.info(config.file === null ? "no config file and no terminal to ask on: using the embedded defaults" : `config: ${config.file}`);
  // Handlers go in first: start-up is synchronous, so a signal sent during it is handled once
  // the server exists, instead of killing the process with the default action.
  let server: KestrelServer | null = null;
  const stop = () => void server?.stop();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => reloadSafely(server));
  server = KestrelServer.start(config, { version: VERSION, readConfig: () => readConfig(options) });
  void server.stopped.then(() => process.exit(0));
}

/**
 * SIGHUP's reload. `reload` reports its own failures and never throws; a bug that threw anyway
 * would end the process from a signal handler, so it is logged here instead, as a command's is.
 */
function reloadSafely(server: KestrelServer | null): void {
  try {
    server?.reload();
  } catch (error) {
    log.error(`internal error in reload: ${errorText(error)}`);
  }
}
