/**
 * Keeps the client's view of the cluster fresh in the background: every `statusIntervalMs` it
 * asks each server that is not in backoff for its status (`status`, answered `UP`, `READONLY`,
 * `QUIESCENT` or `WRITEAVOID`); with a DNS name, every `dnsRefreshMs` it resolves the name again
 * so servers join and leave as the records change.
 *
 * Invariants: its timers never keep a process alive; one round of each kind runs at a time (a
 * slow server does not pile checks up); a status check that fails puts the server into backoff
 * like any failed operation, and one that succeeds ends its backoff, so a restarted server is
 * back in rotation within one interval after its backoff; a server that does not know the
 * command (ERROR or CLIENT_ERROR) counts as up.
 */
import { type Resolver, refreshFromDns } from "./cluster.ts";
import { type ClientCore, type PoolMember, transportFailure } from "./core.ts";
import { ProtocolError } from "./errors.ts";
import { STATUS_REQUEST, parseStatus, replyText } from "./protocol.ts";

export interface DnsSource {
  readonly hostname: string;
  readonly port: number;
  readonly resolve: Resolver;
}

/** Asks `member` for its status and records the answer, or the failure. Never throws. */
export async function checkStatus(core: ClientCore, member: PoolMember): Promise<void> {
  try {
    const connection = await member.resource.shared();
    const reply = await connection.request(STATUS_REQUEST, "line", core.settings.requestTimeoutMs);
    const status = reply.kind === "line" ? parseStatus(reply.line) : reply.kind === "error" && !reply.line.startsWith("SERVER_ERROR") ? "up" : null;
    if (status === null) {
      const broken = new ProtocolError(member.endpoint.name, `unexpected reply to status: ${replyText(reply)}`);
      connection.close(broken);
      throw broken;
    }
    core.cluster.learnStatus(member, status);
    core.cluster.succeeded(member);
  } catch (error) {
    try {
      transportFailure(core, member, error);
    } catch {
      // closed meanwhile, or not a transport failure: nothing to record
    }
  }
}

export class Monitor {
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private checking = false;
  private resolving = false;

  constructor(
    private readonly core: ClientCore,
    private readonly dns: DnsSource | null,
  ) {}

  start(): void {
    this.every(this.core.settings.statusIntervalMs, () => this.checkStatuses());
    if (this.dns !== null) this.every(this.core.settings.dnsRefreshMs, () => this.refreshDns());
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }

  /** One status round over the servers not in backoff; skipped while one runs unless `always`. */
  async checkStatuses(always = false): Promise<void> {
    if ((this.checking && !always) || this.core.closed) return;
    this.checking = true;
    try {
      const now = Date.now();
      await Promise.all(this.core.cluster.list().filter((member) => member.retryAt <= now).map((member) => checkStatus(this.core, member)));
    } finally {
      this.checking = false;
    }
  }

  async refreshDns(): Promise<void> {
    if (this.dns === null || this.resolving || this.core.closed) return;
    this.resolving = true;
    try {
      this.core.discoveryError = await refreshFromDns(this.core.cluster, this.dns.hostname, this.dns.port, this.dns.resolve);
    } finally {
      this.resolving = false;
    }
  }

  private every(ms: number, run: () => Promise<void>): void {
    const timer = setInterval(() => void run(), ms);
    timer.unref?.();
    this.timers.push(timer);
  }
}
