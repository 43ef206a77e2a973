/**
 * A response body made as the client reads it: a render (a generator writing into a ChunkWriter,
 * yielding between lines) run for at most SLICE_MS (or until CHUNK_BYTES are written) per chunk,
 * each chunk in an event-loop turn of its own, so a reply of 450,000 lines (/metrics of 15,000
 * queues: 13 MB, 114-180 ms in one turn) never holds up the memcache clients. The render is run
 * only as the socket takes the chunks: a client that stops reading holds one chunk, not the
 * reply, once the kernel's buffers for its socket are full (on loopback up to tcp_wmem's maximum,
 * 4 MiB here: the chunks made for them are garbage until the next collection). A render that
 * throws (a bug) ends the body early, the response already under way: `onError` hears of it (the
 * status line was sent long before).
 *
 * All bodies being sent share the turn's budget with the memcache connections
 * (turn_scheduler.ts): a chunk stops at the turn's deadline, and once the turn is spent a body
 * adds at most STEPS_PER_LOOK steps to its chunk, so 50 clients reading at once cost a turn
 * about its budget, not 50 times 2 ms.
 *
 * `onEnd` runs exactly once, when the body ends: sent whole, failed, or cancelled (the client
 * went away, or Bun.serve timed it out after 10 s without reading). `onChunk` hears of each
 * chunk's bytes (the memory pacer counts them as traffic: the text made for a body is garbage
 * once sent, as a memcache reply's is).
 */
import { turnDeadline } from "../turn_scheduler.ts";
import { ChunkWriter } from "./chunk_writer.ts";

const SLICE_MS = 2;
const CHUNK_BYTES = 64 * 1024;
/** Render steps between two looks at the clock (and the most a chunk takes once the turn is spent). */
const STEPS_PER_LOOK = 16;

/** Writes a body into `out`, yielding where it may stop for the turn. */
export type Render = (out: ChunkWriter) => Iterator<unknown>;

export interface BodyHooks {
  /** A piece threw (a bug): the body ends early. */
  readonly onError: (error: unknown) => void;
  readonly onEnd?: () => void;
  readonly onChunk?: (bytes: number) => void;
}

export function streamedResponse(render: Render, contentType: string, hooks: BodyHooks): Response {
  const out = new ChunkWriter(CHUNK_BYTES);
  const steps = render(out);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    hooks.onEnd?.();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      // A pull that enqueues nothing is not called again (the stream waits for an enqueue), so
      // one that made no bytes this turn goes on in the next.
      async pull(controller) {
        for (;;) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (ended) return;
          let done: boolean;
          try {
            done = fillChunk(steps, out, Math.min(performance.now() + SLICE_MS, turnDeadline()));
          } catch (error) {
            end();
            hooks.onError(error);
            return controller.error(error);
          }
          const bytes = out.take();
          if (bytes.length > 0) {
            hooks.onChunk?.(bytes.length);
            controller.enqueue(bytes);
          }
          if (done) {
            end();
            return controller.close();
          }
          if (bytes.length > 0) return;
        }
      },
      cancel() {
        end();
        steps.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers: { "content-type": contentType } });
}

/** Runs the render's steps until `until` (performance.now()) or the chunk is full; true once the render is done. */
function fillChunk(steps: Iterator<unknown>, out: ChunkWriter, until: number): boolean {
  for (let n = 1; ; n++) {
    if (steps.next().done === true) return true;
    if (out.full || (n % STEPS_PER_LOOK === 0 && performance.now() >= until)) return false;
  }
}

/** A render of text pieces, each written as it is taken (for bodies made of a few large pieces). */
export function piecesWritten(pieces: Iterable<string>): Render {
  return function* (out) {
    for (const piece of pieces) {
      out.text(piece);
      yield;
    }
  };
}
