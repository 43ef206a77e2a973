/**
 * One HTTP/1.1 GET over a raw loopback socket, as a hostile client sends it: the connection is
 * opened first and the request written when told (so many can be sent in one moment), and the
 * reply is either read whole or never read at all (the socket paused, the server's writes left
 * in the kernel's buffers).
 *
 * The request says `Connection: close`, so a reply is complete when the server closes the
 * connection; its body is then taken out of its chunks (`Transfer-Encoding: chunked`, as a
 * streamed body is sent) or read as it came. A reply cut short (no final chunk, fewer bytes than
 * `Content-Length`) is an error, not a short body.
 *
 * Invariants: the reply's bytes are kept only by a reader, until the connection ends; `close`
 * drops the connection at once (unread bytes make the kernel reset it) and fails a reply still
 * awaited.
 */
import type { Socket } from "bun";
import { HOST } from "./protocol.ts";

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

interface State {
  readonly chunks: Buffer[];
  ended: string | null;
  onEnd: (() => void) | null;
}

export class RawHttpGet {
  private constructor(
    private readonly socket: Socket<State>,
    private readonly state: State,
  ) {}

  /** A connection to `port`; `reads`: false pauses it at once, so nothing the server sends is ever read. */
  static async connect(port: number, reads: boolean): Promise<RawHttpGet> {
    const state: State = { chunks: [], ended: null, onEnd: null };
    const end = (socket: Socket<State>, why: string) => {
      socket.data.ended ??= why;
      socket.data.onEnd?.();
    };
    const socket = await Bun.connect<State>({
      hostname: HOST,
      port,
      data: state,
      socket: {
        data: (socket, chunk) => void socket.data.chunks.push(Buffer.from(chunk)),
        close: (socket) => end(socket, "closed"),
        error: (socket, error) => end(socket, error.message),
      },
    });
    if (!reads) socket.pause();
    return new RawHttpGet(socket, state);
  }

  /** Writes `GET <path>` (the whole request goes in one write: it is a few dozen bytes). */
  send(path: string): void {
    const request = `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
    const taken = this.socket.write(request);
    if (taken !== request.length) throw new Error(`GET ${path}: the socket took ${taken} of ${request.length} bytes`);
  }

  /** The whole reply, once the server has closed the connection; fails after `timeoutMs`. */
  reply(timeoutMs: number): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no whole reply within ${timeoutMs / 1000} s`)), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        try {
          resolve(parseReply(Buffer.concat(this.state.chunks)));
        } catch (error) {
          reject(error);
        } finally {
          this.state.chunks.length = 0;
        }
      };
      if (this.state.ended !== null) done();
      else this.state.onEnd = done;
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Status and body of a complete HTTP/1.1 reply; throws if it is not one. */
function parseReply(bytes: Buffer): HttpReply {
  const headEnd = bytes.indexOf("\r\n\r\n");
  if (headEnd < 0) throw new Error(`no header in ${bytes.length} bytes`);
  const head = bytes.toString("latin1", 0, headEnd);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  if (status === null) throw new Error(`not an HTTP reply: ${JSON.stringify(head.slice(0, 80))}`);
  const body = bytes.subarray(headEnd + 4);
  const header = (name: string) => new RegExp(`^${name}:\\s*(.+?)\\s*$`, "im").exec(head)?.[1];
  if (header("transfer-encoding")?.toLowerCase() === "chunked") return { status: Number(status[1]), body: unchunk(body) };
  const length = header("content-length");
  if (length !== undefined && Number(length) !== body.length) throw new Error(`${body.length} of ${length} bytes of body`);
  return { status: Number(status[1]), body: body.toString("utf8") };
}

/** A chunked body's data; throws if it ends before its last (empty) chunk. */
function unchunk(body: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd < 0) throw new Error(`chunked body cut short after ${at} bytes`);
    const size = parseInt(body.toString("latin1", at, lineEnd), 16);
    if (!Number.isInteger(size)) throw new Error(`bad chunk size at byte ${at}`);
    if (size === 0) return Buffer.concat(parts).toString("utf8");
    const start = lineEnd + 2;
    if (start + size + 2 > body.length) throw new Error(`chunked body cut short in a chunk of ${size} bytes`);
    parts.push(body.subarray(start, start + size));
    at = start + size + 2;
  }
}
