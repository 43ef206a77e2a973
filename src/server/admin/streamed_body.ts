/**
 * A response body sent as the client reads it: each chunk is taken from a ChunkSource (a render
 * of its own, render_chunks.ts, or a reader of a body shared by requests for the same bytes,
 * shared_body.ts) in an event-loop turn of its own, and only as the socket takes the chunks: a
 * client that stops reading holds one chunk, not the reply, once the kernel's buffers for its
 * socket are full (on loopback up to tcp_wmem's maximum, 4 MiB here). A source that throws (a
 * bug) ends the body early, the response already under way: `onError` hears of it (the status
 * line was sent long before).
 *
 * A pull that enqueues nothing is not called again (the stream waits for a chunk or the end), so
 * a pull whose turn made no bytes takes the next turn's, until it has some or the body ends.
 *
 * `onEnd` runs exactly once, when the body ends: sent whole, failed, or cancelled (the client
 * went away, or Bun.serve timed it out after 10 s without reading); the source is closed then.
 */
import type { Chunk, ChunkSource } from "./render_chunks.ts";

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
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (ended) return;
          let chunk: Chunk;
          try {
            chunk = source.next();
          } catch (error) {
            end();
            hooks.onError(error);
            return controller.error(error);
          }
          if (chunk.bytes.length > 0) controller.enqueue(chunk.bytes);
          if (chunk.done) {
            end();
            return controller.close();
          }
          if (chunk.bytes.length > 0) return;
        }
      },
      cancel: end,
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers: { "content-type": contentType } });
}
