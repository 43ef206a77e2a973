/**
 * A response body made as the client reads it: text pieces taken from an iterator for at most
 * SLICE_MS (or CHUNK_CHARS characters) per chunk, each chunk in an event-loop turn of its own,
 * so a reply of 450,000 lines (/metrics of 15,000 queues: 13 MB, 114-180 ms in one turn) never
 * holds up the memcache clients. The iterator is pulled only as the client reads: a reader that
 * stops holds one chunk, not the reply. A piece that throws (a bug) ends the body early, the
 * response already under way: `onError` hears of it (the status line was sent long before).
 *
 * All bodies being sent share the turn's budget with the memcache connections
 * (turn_scheduler.ts): a chunk stops at the turn's deadline, and once the turn is spent a body
 * adds at most PIECES_PER_LOOK pieces to its chunk, so 50 clients reading at once cost a turn
 * about its budget, not 50 times 2 ms.
 *
 * `onEnd` runs exactly once, when the body ends: sent whole, failed, or cancelled (the client
 * went away, or Bun.serve timed it out after 10 s without reading). `onChunk` hears of each
 * chunk's bytes (the memory pacer counts them as traffic: the text made for a body is garbage
 * once sent, as a memcache reply's is).
 */
import { turnDeadline } from "../turn_scheduler.ts";

const SLICE_MS = 2;
const CHUNK_CHARS = 64 * 1024;
/** Pieces between two looks at the clock (and the most a chunk takes once the turn is spent). */
const PIECES_PER_LOOK = 16;

export interface BodyHooks {
  /** A piece threw (a bug): the body ends early. */
  readonly onError: (error: unknown) => void;
  readonly onEnd?: () => void;
  readonly onChunk?: (bytes: number) => void;
}

export function streamedResponse(pieces: Iterator<string>, contentType: string, hooks: BodyHooks): Response {
  const encoder = new TextEncoder();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    hooks.onEnd?.();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        let chunk: ReturnType<typeof nextChunk>;
        try {
          chunk = nextChunk(pieces, Math.min(performance.now() + SLICE_MS, turnDeadline()));
        } catch (error) {
          end();
          hooks.onError(error);
          return controller.error(error);
        }
        if (chunk.text !== "") {
          const bytes = encoder.encode(chunk.text);
          hooks.onChunk?.(bytes.length);
          controller.enqueue(bytes);
        }
        if (chunk.done) {
          end();
          controller.close();
        }
      },
      cancel() {
        end();
        pieces.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers: { "content-type": contentType } });
}

/** The next pieces, joined, until `until` (performance.now()) or the chunk is full; `done` once the pieces are. */
function nextChunk(pieces: Iterator<string>, until: number): { readonly text: string; readonly done: boolean } {
  let text = "";
  for (let n = 1; ; n++) {
    const next = pieces.next();
    if (next.done === true) return { text, done: true };
    text += next.value;
    if (text.length >= CHUNK_CHARS || (n % PIECES_PER_LOOK === 0 && performance.now() >= until)) return { text, done: false };
  }
}
