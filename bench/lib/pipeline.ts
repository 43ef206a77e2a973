/**
 * One benchmark connection that pipelines: it writes a batch of requests at once and waits until
 * every one of them has its reply, then the caller writes the next batch.
 *
 * Every reply is classified by `ReplyParser` and handed to the caller's check, which may refuse it
 * (a set answered NOT_STORED, an item that does not match). A refused reply, a reply nobody asked
 * for, a closed connection or a batch unanswered for `replyTimeoutMs` fails the pending batch and
 * every later one: a pipeline that went wrong stays failed.
 */
import type { Socket } from "bun";
import { HOST, ReplyParser, type ReplyKind } from "./protocol.ts";
import { SocketWriter } from "./socket_writer.ts";

/** Says why a reply is wrong, or null when it is one the caller expects. */
export type ReplyCheck = (kind: ReplyKind, detail: string) => string | null;

const DEFAULT_REPLY_TIMEOUT_MS = 60_000;

export class Pipeline {
  private writer: SocketWriter | null = null;
  private socket: Socket<Pipeline> | null = null;
  private readonly replies: ReplyParser;
  private awaiting = 0;
  private waiter: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  /**
   * `valueBlock` is what a VALUE reply's data must be (the item and CRLF) for the parser to call it
   * a hit rather than corrupt; `name` prefixes every error.
   */
  constructor(
    private readonly name: string,
    valueBlock: Uint8Array,
    private readonly check: ReplyCheck,
    private readonly replyTimeoutMs = DEFAULT_REPLY_TIMEOUT_MS,
  ) {
    this.replies = new ReplyParser(valueBlock, (kind, detail) => this.onReply(kind, detail));
  }

  async connect(port: number): Promise<void> {
    this.socket = await Bun.connect<Pipeline>({
      hostname: HOST,
      port,
      data: this,
      socket: {
        data: (socket, chunk) => socket.data.replies.feed(chunk),
        drain: (socket) => socket.data.writer?.drain(),
        close: (socket, error) => socket.data.fail(`connection closed${error ? ` (${error.message})` : ""}`),
        error: (socket, error) => socket.data.fail(error.message),
      },
    });
    this.socket.setNoDelay(true);
    this.writer = new SocketWriter(this.socket);
  }

  /** Writes `requests` (holding `count` requests) in one write; resolves once all `count` replies have come and passed the check. */
  send(requests: Uint8Array, count: number): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.awaiting > 0) return Promise.reject(new Error(`${this.name}: a batch was sent before the previous one was answered`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`no reply to a batch of ${count} within ${this.replyTimeoutMs / 1000} s`), this.replyTimeoutMs);
      const settle = () => clearTimeout(timer);
      this.waiter = { resolve: () => (settle(), resolve()), reject: (error) => (settle(), reject(error)) };
      this.awaiting = count;
      this.writer!.write(requests);
    });
  }

  close(): void {
    this.failure ??= new Error(`${this.name}: closed`);
    this.socket?.end();
  }

  private onReply(kind: ReplyKind, detail: string): void {
    if (this.failure !== null) return;
    if (this.awaiting === 0) return this.fail(`a reply nobody asked for (${kind}${detail === "" ? "" : `: ${detail}`})`);
    const wrong = this.check(kind, detail);
    if (wrong !== null) return this.fail(wrong);
    if (--this.awaiting === 0) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter?.resolve();
    }
  }

  private fail(reason: string): void {
    if (this.failure !== null) return;
    this.failure = new Error(`${this.name}: ${reason}`);
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(this.failure);
  }
}

/** A check for batches of sets: every reply must be STORED. */
export const expectStored: ReplyCheck = (kind, detail) => (kind === "stored" ? null : `set answered ${kind}${detail === "" ? "" : `: ${detail}`}`);
