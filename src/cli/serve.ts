/**
 * `kestrel [serve]`: load the config (file or embedded defaults, then command-line overrides),
 * start the server, and wire signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, defaultConfig, loadConfigFile, type KestrelConfig } from "../config/load.ts";
import { configureLog, log } from "../log.ts";
import { KestrelServer } from "../server/server.ts";
import { VERSION } from "../version.ts";
import { UsageError } from "./usage.ts";

export interface ServeOptions {
  readonly config?: string;
  readonly host?: string;
  readonly port?: string;
  readonly data?: string;
}

export function readConfig(options: ServeOptions): KestrelConfig {
  if (options.config !== undefined && !existsSync(options.config)) throw new ConfigError(`${options.config}: config file not found`);
  const file = options.config ?? (existsSync("kestrel.toml") ? "kestrel.toml" : null);
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

/** Starts serving; the process exits 0 once the server has stopped. */
export function serve(options: ServeOptions): void {
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
