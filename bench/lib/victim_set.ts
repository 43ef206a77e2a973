/**
 * An ordinary client's `set` sent while an attack holds the server, to see whether it gets
 * through: its reply is awaited in the background and looked for twice, for a bounded while
 * each time: during the attack, then after the attackers left.
 */
import { AttackClient, type Reply } from "./attack_client.ts";
import { secs } from "./report.ts";

/** How long the reply may take in all (a set held back by an attack that never ends). */
const GIVE_UP_MS = 600_000;

export class VictimSet {
  private outcome: Reply | Error | null = null;
  private readonly settled: Promise<void>;
  /** performance.now() when the request was written. */
  private readonly sentAt = performance.now();
  private waitedMs = 0;
  private leftAt: number | null = null;

  private constructor(
    private readonly client: AttackClient,
    request: Uint8Array,
  ) {
    this.settled = client.request(request, 1, GIVE_UP_MS).then(
      ([reply]) => void (this.outcome = reply!),
      (error: Error) => void (this.outcome = error),
    );
  }

  /** Sends a set of `bytes` bytes to queue `victim` on a new connection. */
  static async send(port: number, bytes: number): Promise<VictimSet> {
    const client = await AttackClient.connect(port);
    return new VictimSet(client, Buffer.concat([Buffer.from(`set victim 0 0 ${bytes}\r\n`), Buffer.alloc(bytes, "v"), Buffer.from("\r\n")]));
  }

  /** Waits up to `ms` for the reply while the attack goes on; whether it came. */
  async answeredWithin(ms: number): Promise<boolean> {
    this.waitedMs = ms;
    await this.settledWithin(ms);
    return this.outcome !== null;
  }

  /** The attackers left just now: waits up to `ms` more for the reply, then closes the connection. */
  async afterAttackersLeft(ms: number): Promise<void> {
    this.leftAt = performance.now();
    await this.settledWithin(ms);
    this.client.close();
  }

  /** `STORED after 0.01 s`, or `no reply in 5.00 s; STORED 0.02 s after the attackers left`. */
  describe(): string {
    const outcome = this.outcome;
    const reply = outcome === null ? "" : outcome instanceof Error ? `no reply (${outcome.message})` : outcome.kind === "stored" ? "STORED" : `${outcome.kind} ${outcome.detail}`.trim();
    const at = outcome === null || outcome instanceof Error ? performance.now() : outcome.at;
    if (outcome !== null && at - this.sentAt <= this.waitedMs) return `${reply} after ${secs(at - this.sentAt)}`;
    const then = this.leftAt === null ? "" : outcome === null ? "; still none after the attackers left" : `; ${reply} ${secs(at - this.leftAt)} after the attackers left`;
    return `no reply in ${secs(this.waitedMs)}${then}`;
  }

  private async settledWithin(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}
