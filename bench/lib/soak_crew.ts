/**
 * The soak test's clients for one server lifetime: producers, reliable consumers and plain
 * consumers, each on its own connection, each telling the ledger exactly what it was told.
 *
 * - A producer sends batches of sets in one write (pipelined), random sizes, some over 16 KiB,
 *   and reads every reply before the next batch.
 * - A reliable consumer sends `get q/close/open/t=...`: the reply confirms the item it held and
 *   may hand it the next one; now and then it aborts instead (`get q/abort`).
 * - A plain consumer sends `get q/t=...` (or a plain `get q`); an item is consumed when its reply
 *   arrives. An optional pause between gets lets items wait and expire.
 * A client ends when its connection does (a restart or a kill) or, once the crew is told to stop,
 * after its current request; a reliable consumer then confirms what it holds. A request with no
 * reply for STALL_MS is a problem, and the client goes on with a new connection. Any reply the
 * protocol does not allow, or an error other than the connection closing, is a problem too.
 */
import type { TestClient } from "../../test/helpers/client.ts";
import type { Ledger } from "./soak_ledger.ts";
import { within } from "./client.ts";
import { makePayload } from "./soak_items.ts";

/** The t= of the consumers' blocking gets. */
const WAIT_MS = 200;
/** A request unanswered this long is a stall. */
const STALL_MS = 20_000;
/** After a refusal (SERVER_ERROR), wait this long before asking again. */
const REFUSAL_PAUSE_MS = 50;
const MAX_BATCH = 12;
const ABORT_CHANCE = 0.05;

export interface CrewPlan {
  readonly producers: number;
  /** Queues producers write to, one chosen at random per batch. */
  readonly produceTo: readonly string[];
  /** One pause between producer batches is up to this long. */
  readonly producerPauseMs: number;
  readonly reliable: readonly string[];
  readonly plain: ReadonlyArray<{ readonly queue: string; readonly pauseMs: number }>;
}

/** What every client of the soak shares. */
export interface CrewContext {
  readonly ledger: Ledger;
  readonly random: () => number;
  /** Replies that are not plain successes (`set NOT_STORED`, `get SERVER_ERROR`, ...), by kind. */
  readonly refusals: Map<string, number>;
  problem(text: string): void;
}

interface Member {
  readonly name: string;
  /** When its request went out, while it waits for the reply. */
  waitingSince: number | null;
  /** What it waits for (`set jobs`, `get mail/t=200`), for the report of a stall. */
  request: string;
}

/** No reply for STALL_MS: the connection is given up and a new one made. */
class Stall extends Error {}

export class Crew {
  private stopping = false;
  private readonly members: Member[] = [];
  private readonly work: Promise<void>[] = [];

  private constructor(
    private readonly connect: () => Promise<TestClient>,
    private readonly ctx: CrewContext,
  ) {}

  /** Sets every client of `plan` going, each on a connection made with `connect`. */
  static start(plan: CrewPlan, epoch: number, connect: () => Promise<TestClient>, ctx: CrewContext): Crew {
    const crew = new Crew(connect, ctx);
    for (let i = 0; i < plan.producers; i++) {
      const name = `e${epoch}p${i}`;
      const next = { seq: 0 };
      crew.launch(name, (client, member) => crew.produce(client, member, name, next, plan));
    }
    for (const queue of plan.reliable) crew.launch(`reliable ${queue}`, (client, member) => crew.consumeReliably(client, member, queue));
    for (const { queue, pauseMs } of plan.plain) crew.launch(`plain ${queue}`, (client, member) => crew.consumePlainly(client, member, queue, pauseMs));
    return crew;
  }

  /** Producers stop; consumers confirm what they hold and stop. Resolves when all have. */
  stop(): Promise<void> {
    this.stopping = true;
    return this.finished();
  }

  /** Resolves when every client has ended (after `stop`, or once the server is gone). */
  async finished(): Promise<void> {
    await Promise.all(this.work);
  }

  /** Clients waiting for a reply now, with what they asked and how long ago. */
  waiting(): string[] {
    const now = performance.now();
    return this.members.filter((m) => m.waitingSince !== null).map((m) => `${m.name} (${m.request}, ${((now - m.waitingSince!) / 1000).toFixed(1)} s)`);
  }

  private launch(name: string, body: (client: TestClient, member: Member) => Promise<void>): void {
    const member: Member = { name, waitingSince: null, request: "" };
    this.members.push(member);
    this.work.push(this.run(member, body));
  }

  /** Runs `body` on a connection until it returns or the connection ends; after a stall, on a new one. */
  private async run(member: Member, body: (client: TestClient, member: Member) => Promise<void>): Promise<void> {
    for (let stalls = 0; ; stalls++) {
      const client = await this.connect().catch((error: Error) => {
        // After a stall the server may be going away: not being able to connect then just ends the client.
        if (stalls === 0) this.ctx.problem(`${member.name}: could not connect: ${error.message}`);
        return null;
      });
      if (client === null) return;
      try {
        return await body(client, member);
      } catch (error) {
        if (error instanceof Stall && !this.stopping) continue;
        if (!(error instanceof Stall) && !isClosed(error as Error)) this.ctx.problem(`${member.name}: ${(error as Error).message}`);
        return;
      } finally {
        member.waitingSince = null;
        client.close();
      }
    }
  }

  /** Waits for the reply to `request`; a Stall (reported as a problem) if none comes within STALL_MS. */
  private async await<T>(member: Member, request: string, reply: Promise<T>): Promise<T> {
    member.waitingSince = performance.now();
    member.request = request;
    // The reply that never came fails once the connection is closed; nobody waits for it then.
    reply.catch(() => {});
    try {
      return await within(reply, STALL_MS, request);
    } catch (error) {
      if (!/^timed out/.test((error as Error).message)) throw error;
      this.ctx.problem(`${member.name}: no reply to ${request} within ${STALL_MS / 1000} s; giving up the connection for a new one`);
      throw new Stall(request);
    } finally {
      member.waitingSince = null;
    }
  }

  private async produce(client: TestClient, member: Member, name: string, next: { seq: number }, plan: CrewPlan): Promise<void> {
    const { ledger, random } = this.ctx;
    while (!this.stopping) {
      const queue = plan.produceTo[Math.floor(random() * plan.produceTo.length)]!;
      const batch = Array.from({ length: 1 + Math.floor(random() * MAX_BATCH) }, () => ({ id: `${name}/${next.seq}`, data: makePayload(name, next.seq++, itemSize(random)) }));
      for (const item of batch) ledger.sent(queue, item.id);
      await client.send(Buffer.concat(batch.flatMap((item) => [Buffer.from(`set ${queue} 0 0 ${item.data.length}\r\n`), item.data, Buffer.from("\r\n")])));
      for (const item of batch) {
        const reply = await this.await(member, `set ${queue}`, client.readLine());
        if (reply !== "STORED") this.refused("set", reply, queue);
        ledger.answered(queue, item.id, reply === "STORED");
      }
      await Bun.sleep(random() * plan.producerPauseMs);
    }
  }

  private async consumeReliably(client: TestClient, member: Member, queue: string): Promise<void> {
    const { ledger, random } = this.ctx;
    let open: string | null = null;
    /** The open item is being given back: only aborts are sent until one is answered. */
    let aborting = false;
    try {
      for (;;) {
        const stopping = this.stopping;
        if (open !== null && !aborting && !stopping && random() < ABORT_CHANCE) {
          // It goes back now, by the abort or by the connection's end, and another consumer may
          // get it before the abort's reply arrives here.
          aborting = true;
          ledger.givenBack(queue, open);
        }
        const request = `get ${queue}/${aborting ? "abort" : stopping ? "close" : `close/open/t=${WAIT_MS}`}`;
        await client.send(`${request}\r\n`);
        const reply = await this.await(member, request, client.readGetReply());
        if (reply !== null && "error" in reply) {
          this.refused("get", reply.error, queue);
          // Whether the close happened is unknown; a refused abort is sent again.
          if (open !== null && !aborting) ledger.unsure(queue, open);
          if (!aborting) open = null;
          await Bun.sleep(REFUSAL_PAUSE_MS);
          continue;
        }
        if (open !== null && !aborting) ledger.confirmed(queue, open);
        aborting = false;
        open = reply === null ? null : ledger.delivered(queue, reply.data, "open");
        if (stopping && open === null) return;
      }
    } catch (error) {
      // A close cut off (or given up after a stall) may or may not have happened.
      if (open !== null && !aborting) ledger.unsure(queue, open);
      throw error;
    }
  }

  private async consumePlainly(client: TestClient, member: Member, queue: string, pauseMs: number): Promise<void> {
    const { ledger, random } = this.ctx;
    let waiting = false;
    try {
      while (!this.stopping) {
        const request = `get ${queue}${random() < 0.5 ? `/t=${WAIT_MS}` : ""}`;
        await client.send(`${request}\r\n`);
        waiting = true;
        const reply = await this.await(member, request, client.readGetReply());
        waiting = false;
        if (reply !== null && "error" in reply) {
          this.refused("get", reply.error, queue);
          await Bun.sleep(REFUSAL_PAUSE_MS);
        } else if (reply !== null) {
          ledger.delivered(queue, reply.data, "plain");
        }
        if (pauseMs > 0) await Bun.sleep(random() * pauseMs * 2);
      }
    } catch (error) {
      // Cut off by the server's end or given up after a stall: it may have taken an item.
      if (waiting) ledger.plainGetCutOff(queue);
      throw error;
    }
  }

  /** Counts a reply other than success; anything but NOT_STORED or SERVER_ERROR is a problem. */
  private refused(command: string, line: string, queue: string): void {
    const kind = `${command} ${line.split(" ")[0]}`;
    this.ctx.refusals.set(kind, (this.ctx.refusals.get(kind) ?? 0) + 1);
    if (line !== "NOT_STORED" && !line.startsWith("SERVER_ERROR")) this.ctx.problem(`${command} on '${queue}' answered ${line}`);
  }
}

/** Item sizes: mostly small, some of a few KiB, one in twenty over 16 KiB. */
function itemSize(random: () => number): number {
  const r = random();
  if (r < 0.05) return 16 * 1024 + Math.floor(random() * 80 * 1024);
  if (r < 0.2) return 1024 + Math.floor(random() * 15 * 1024);
  return 64 + Math.floor(random() * 960);
}

/** The error a TestClient throws once its connection is gone. */
function isClosed(error: Error): boolean {
  return /closed/.test(error.message);
}
