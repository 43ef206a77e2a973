/**
 * A response body sent as the client reads it: each chunk is taken from a ChunkSource (a render
 * of its own, render_chunks.ts, or a reader of a body shared by requests for the same bytes,
 * shared_body.ts) in an event-loop turn of its own, and only as the socket takes the chunks: a
 * client that stops reading holds one chunk, not the reply, once the kernel's buffers for its
 * socket are full (on loopback up to tcp_wmem's maximum, 4 MiB here). A source that throws (a
 * bug) ends the body early, the response already under way: `onError` hears of it (the status
 * line was sent long before).
 *
 * Chunks are made within the admin port's share of a turn (turn_share.ts): with many bodies being
 * read, a chunk may wait a few turns for its place.
 *
 * A pull that enqueues nothing is not called again (the stream waits for a chunk or the end), so
 * a pull whose turn made no bytes takes the next turn's, until it has some or the body ends.
 *
 * `onEnd` runs exactly once, when the body ends: sent whole, failed, or cancelled (the client
 * went away, or Bun.serve timed it out after 10 s without reading); the source is closed then.
 */
import type { Chunk, ChunkSource } from "./render_chunks.ts";
import { handedOut, inTurnShare } from "./turn_share.ts";

export interface BodyHooks {
  /** The source threw (a bug): the body ends early. */
  readonly onError: (error: unknown) => void;
  readonly onEnd?: () => void;
}

export function streamedResponse(source: ChunkSource, contentType: string, hooks: BodyHooks): Response {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    source.close();
    hooks.onEnd?.();
  };
  // One chunk in a turn of the admin port's share; a turn that made no bytes asks the next one's.
  const nextChunk = (controller: ReadableStreamDefaultController<Uint8Array>, done: () => void): void => {
    if (ended) return done();
    let chunk: Chunk;
    try {
      chunk = source.next();
    } catch (error) {
      end();
      hooks.onError(error);
      controller.error(error);
      return done();
    }
    handedOut(chunk.bytes.length);
    if (chunk.bytes.length > 0) controller.enqueue(chunk.bytes);
    if (chunk.done) {
      end();
      controller.close();
      return done();
    }
    if (chunk.bytes.length > 0) return done();
    inTurnShare(() => nextChunk(controller, done));
  };
  const body = new ReadableStream<Uint8Array>(
    {
      pull: (controller) => new Promise<void>((done) => inTurnShare(() => nextChunk(controller, done))),
      cancel: end,
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers: { "content-type": contentType } });
}
