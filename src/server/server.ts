/**
 * The client listeners (the memcache port, and the text protocol's port if text_port is set: one
 * listener per front end, over the same queues) and the server's life cycle: start, connections,
 * the expiry sweep, reload and a clean stop.
 *
 * Start binds the memcache port, then the text port, then the admin port, and only then takes queue_path's lock and
 * replays the journals: a port in use is reported before anything is read, and the ports stay
 * taken for the whole replay, so a second server can't start on them meanwhile. Start-up is
 * synchronous: a connection made during the replay waits in the kernel's accept queue and is
 * served once the queues are loaded. If anything fails, what was bound is let go.
 *
 * A clean stop stops accepting and reading requests, ends blocking gets, lets connections send
 * what they owe (replies waiting for a journal write go once it is done), puts back the items of
 * replies a client did not take in time, then writes, syncs and closes every journal.
 */
import type { Socket, SocketHandler } from "bun";
import { monotonicMs } from "../clock.ts";
import type { KestrelConfig } from "../config/load.ts";
import { errorText } from "../errors.ts";
import type { Commit } from "../journal/commit.ts";
import { flushJournals } from "../journal/flush_scheduler.ts";
import { discardLogTarget, log, openLogTarget, useLogTarget } from "../log.ts";
import { QueueCollection } from "../queue/queue_collection.ts";
import { exposureWarning, reportRefusals } from "./access.ts";
import { startAdminHttp } from "./admin/admin_http.ts";
import { History, startSampling } from "./admin/history.ts";
import { readAuthFile, type Credentials } from "./auth_file.ts";
import { Connection, type ServedConnection } from "./connection.ts";
import type { ServerContext } from "./context.ts";
import { ExpirySweep } from "./expiry_sweep.ts";
import { closeIdleConnections } from "./idle_check.ts";
import { Listener } from "./listener.ts";
import { MemoryPacer } from "./memory_pacer.ts";
import type { FrontEnd } from "./front_end.ts";
import { memcache } from "./memcache/front_end.ts";
import { RequestBudget } from "./request_budget.ts";
import { SilentConnection } from "./silent_connection.ts";
import { takeSnapshotInTurns } from "./snapshot.ts";
import { ServerStats } from "./stats.ts";
import { ServerStatus } from "./status.ts";
import { text } from "./text/text_front_end.ts";

/** How long a stopping server waits for clients to take their last replies. */
const STOP_GRACE_MS = 2000;
/** How often connections are checked for idleness: one idle for `timeout` is closed within this much more. */
const IDLE_CHECK_MS = 250;

export interface ServerOptions {
  readonly version: string;
  /** Reads the config again (for `reload` and SIGHUP); throws with a clear message on bad input. */
  readonly readConfig: () => KestrelConfig;
}

export class KestrelServer {
  private readonly stats = new ServerStats();
  private readonly connections = new Set<ServedConnection>();
  /** The connections opened with an idle timeout (`timeout` > 0 then): the only ones the idle check looks at. */
  private readonly timed = new Set<ServedConnection>();
  private readonly listener: Listener;
  /** The text protocol's port (text_port), if set. */
  private readonly textListener: Listener | null;
  private readonly admin: Listener | null;
  private readonly queues: QueueCollection;
  private readonly ctx: ServerContext;
  private readonly expirySweep: ExpirySweep;
  private readonly idleCheck: ReturnType<typeof setInterval>;
  /** What the admin port's charts show (/history.json); sampled only while the admin port is on. */
  private readonly history = new History();
  private readonly stopSampling: () => void;
  private stopping: Promise<void> | null = null;
  private resolveStopped!: () => void;
  /** Resolves once the server has stopped (after `stop()` or a `shutdown` command). */
  readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  private constructor(
    private config: KestrelConfig,
    private credentials: Credentials | null,
    private readonly options: ServerOptions,
  ) {
    this.listener = this.listen("port", config.server.port, memcache);
    let textListener: Listener | null = null;
    let admin: Listener | null = null;
    try {
      textListener = config.server.textPort === 0 ? null : this.listen("text_port", config.server.textPort, text);
      admin = this.listenAdmin();
      this.queues = QueueCollection.load(config);
    } catch (error) {
      admin?.stop(true);
      textListener?.stop(true);
      this.listener.stop(true);
      throw error;
    }
    this.textListener = textListener;
    this.admin = admin;
    this.ctx = {
      queues: this.queues,
      stats: this.stats,
      // Loaded once queue_path is locked: no other server writes the status file meanwhile.
      status: ServerStatus.load(config.server.queuePath, config.server.defaultStatus, () => this.queues.releaseWaiters()),
      pacer: new MemoryPacer({ queueChurn: () => this.queues.churn }),
      requestBudget: new RequestBudget(() => this.config.server.maxPendingRequestBytes),
      version: options.version,
      config: () => this.config,
      credentials: () => this.credentials,
      reload: () => this.reload(),
      shutdown: () => void this.stop(),
    };
    this.ctx.pacer.calibrate();
    this.expirySweep = new ExpirySweep(() => this.queues.sweepExpired());
    this.expirySweep.setFrequency(config.server.expirationTimerFrequency);
    this.idleCheck = setInterval(() => closeIdleConnections(this.timed, monotonicMs()), IDLE_CHECK_MS);
    this.stopSampling = this.admin === null ? () => {} : startSampling(this.history, (done) => takeSnapshotInTurns(this.ctx, done));
  }

  /** Binds the ports, loads the queues and serves. Throws (one line) if any step fails. */
  static start(config: KestrelConfig, options: ServerOptions): KestrelServer {
    const server = new KestrelServer(config, loadCredentials(config), options);
    log.info(`kestrel ${options.version} listening on ${server.hostname}:${server.port}, queues in ${config.server.queuePath}`);
    logCredentials(config, server.credentials);
    const textPort = server.textListener;
    if (textPort !== null) log.info(`text protocol on ${textPort.hostname}:${textPort.port}`);
    for (const port of textPort === null ? [server.port] : [server.port, textPort.port]) {
      const exposure = exposureWarning(server.hostname, port, server.credentials !== null);
      if (exposure !== null) log.warn(exposure);
    }
    if (server.admin !== null) log.info(`admin HTTP on http://${server.admin.hostname}:${server.admin.port} (the dashboard at /; /health, /stats.json, /metrics, /status)`);
    return server;
  }

  get port(): number {
    return this.listener.port;
  }

  get hostname(): string {
    return this.listener.hostname;
  }

  /**
   * Re-reads the config and applies it entirely, or not at all; returns the reason it failed (also
   * logged), or the commit that settles once every journal it turned on or off holds its items
   * (QueueCollection.prepareReconfigure). Never throws, so a SIGHUP can't stop the server.
   */
  reload(): string | Commit {
    let apply: () => Commit;
    try {
      apply = this.prepareReload(this.options.readConfig());
    } catch (error) {
      log.error(`reload failed, keeping the current config: ${errorText(error)}`);
      return errorText(error);
    }
    return apply();
  }

  /**
   * Runs every step of applying `next` that can fail (reading the file was the first): reading the
   * auth file, opening the log file, then the queues' journal switches. If one fails, what the
   * others prepared is undone and the error thrown. Otherwise returns the rest, which only swaps
   * prepared state in and cannot fail.
   */
  private prepareReload(next: KestrelConfig): () => Commit {
    const before = this.config.server;
    const after = next.server;
    const fixed = { host: before.host, port: before.port, textPort: before.textPort, queuePath: before.queuePath, adminHost: before.adminHost, adminPort: before.adminPort };
    const config = { ...next, server: { ...after, ...fixed } };
    const credentials = loadCredentials(config);
    const logTarget = openLogTarget(after.logLevel, after.logFile);
    let applyToQueues: () => Commit;
    try {
      applyToQueues = this.queues.prepareReconfigure(config);
    } catch (error) {
      discardLogTarget(logTarget);
      throw error;
    }
    return () => {
      useLogTarget(logTarget);
      this.config = config;
      this.credentials = credentials;
      logCredentials(config, credentials);
      const switched = applyToQueues();
      this.expirySweep.setFrequency(config.server.expirationTimerFrequency);
      for (const key of Object.keys(fixed) as (keyof typeof fixed)[]) {
        if (before[key] !== after[key]) log.warn(`reload: ${key} changed to ${after[key]}; it takes effect at the next restart`);
      }
      log.info(`reloaded config from ${next.file ?? "embedded defaults"}`);
      return switched;
    };
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    log.info("stopping: no new connections; writing and closing journals");
    this.listener.stop(false);
    this.textListener?.stop(false);
    this.admin?.stop(true);
    this.expirySweep.stop();
    clearInterval(this.idleCheck);
    this.stopSampling();
    this.ctx.pacer.stop();
    this.queues.releaseWaiters();
    for (const connection of this.connections) connection.quit();
    flushJournals();
    const deadline = monotonicMs() + STOP_GRACE_MS;
    while (this.connections.size > 0 && monotonicMs() < deadline) await Bun.sleep(10);
    // Clients that didn't take their replies: the items in them go back before the journals close.
    for (const connection of this.connections) connection.onClose();
    this.queues.close();
    this.listener.stop(true);
    this.textListener?.stop(true);
    reportRefusals();
    log.info("stopped");
    this.resolveStopped();
  }

  private listenAdmin(): Listener | null {
    const { adminHost, adminPort } = this.config.server;
    if (adminPort === null) return null;
    try {
      return startAdminHttp(() => this.ctx, this.history, adminHost, adminPort, this.stats);
    } catch (error) {
      throw listenError("admin_port", adminHost, adminPort, error);
    }
  }

  /** Listens on `host` and the port of setting `key` for clients speaking `frontEnd`. */
  private listen<F>(key: "port" | "text_port", port: number, frontEnd: FrontEnd<F>): Listener {
    const { host } = this.config.server;
    try {
      return this.bind(host, port, frontEnd);
    } catch (error) {
      throw listenError(key, host, port, error);
    }
  }

  /**
   * Binds a client port; its handlers reach `this.ctx`, which exists before any of them runs. Its
   * connections are counted with every other port's; so are its listen backoffs, and the admin
   * port's (`accepting` says whether the last port to change accepts, which it does when the
   * others do: they all check the same descriptor limit).
   */
  private bind<F>(host: string, port: number, frontEnd: FrontEnd<F>): Listener {
    const handlers: SocketHandler<ServedConnection | null> = {
      open: (socket) => {
        const { maxConnections, maxRequestSize, timeout } = this.config.server;
        const refusal =
          this.stopping !== null ? "server is stopping" : this.connections.size >= maxConnections ? "too many connections" : listener.refusal();
        if (refusal !== null) {
          socket.data = null;
          socket.end(frontEnd.refuseConnection(refusal));
          return;
        }
        // Its parts are made when it first speaks (silent_connection.ts): a burst of connects is accepted in one turn.
        const connection = new SilentConnection(socket, timeout, () => new Connection(socket, this.ctx, frontEnd, timeout, maxRequestSize));
        socket.data = connection;
        this.connections.add(connection);
        if (timeout > 0) this.timed.add(connection);
        this.stats.currConnections = this.connections.size;
        this.stats.totalConnections++;
      },
      data: (socket, chunk) => socket.data?.onData(chunk),
      drain: (socket) => socket.data?.onDrain(),
      close: (socket) => this.closed(socket),
      error: (socket, error) => {
        log.debug(`connection error: ${errorText(error)}`);
        this.closed(socket);
      },
      // Only sockets refused at open keep Bun's own idle timer (closeIdleConnections checks the rest).
      timeout: (socket) => void socket.end(),
    };
    const listener: Listener = new Listener((at) => Bun.listen({ hostname: host, port: at, socket: handlers }), port, this.stats);
    return listener;
  }

  private closed(socket: Socket<ServedConnection | null>): void {
    const connection = socket.data;
    if (connection === null) return;
    connection.onClose();
    this.connections.delete(connection);
    this.timed.delete(connection);
    this.stats.currConnections = this.connections.size;
  }
}

/**
 * A failure to bind `host:port` (the `key` setting, `port`, `text_port` or `admin_port`) as one
 * line naming them: "port 22133 on 127.0.0.1 is in use; ...".
 */
function listenError(key: "port" | "text_port" | "admin_port", host: string, port: number, error: unknown): Error {
  const what = `${key.replace("_", " ")} ${port} on ${host}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") return new Error(`${what} is in use; stop the program holding it or choose another ${key}`);
  if (code === "EACCES") return new Error(`${what}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
  if (code === "EADDRNOTAVAIL") return new Error(`${what}: ${host} is not an address of this machine`);
  return new Error(`can't listen on ${what}: ${errorText(error)}`);
}

/** The users of the config's auth file, or null without one. Throws ConfigError. */
function loadCredentials(config: KestrelConfig): Credentials | null {
  return config.server.authFile === null ? null : readAuthFile(config.server.authFile);
}

/** Says whether clients must authenticate, and warns if others can read the auth file. */
function logCredentials(config: KestrelConfig, credentials: Credentials | null): void {
  const path = config.server.authFile;
  if (path === null || credentials === null) return;
  log.info(`clients must authenticate: ${credentials.userCount} user(s) in ${path}`);
  if (credentials.readableByOthers) log.warn(`auth_file ${path} can be read by other users of this machine; chmod 600 it`);
}
