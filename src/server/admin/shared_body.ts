/**
 * One body's chunks made once and read by many: the requests for the same bytes (/history.json
 * of one history view, /stats.json or /metrics of one snapshot), each reader at its own position.
 * Made one per request, 50 clients asking /history.json and reading nothing made 50 bodies of
 * 2 MB (each socket takes up to the kernel's send buffer, 4 MiB here, before it stops).
 *
 * The chunks are made (render_chunks.ts: a turn's chunk at a time, within the turn's budget) as
 * the furthest reader needs them; a reader behind it takes the chunks already made, with no work.
 * The body holds its chunks from the beginning while it may still be joined (`joinable`: none let
 * go, no failure), up to `windowBytes`. Past that the oldest chunks go, the body can't be joined
 * any more, and from then on a chunk goes as soon as every reader has read it. A reader whose
 * next chunk went (it read slower than the furthest by more than the window, or stopped: a client
 * that reads nothing) gets a continuation of its own if it reads again: the render made again from
 * the start, the bytes it already has dropped (render_chunks.ts `skipBytes`): an unshared body's
 * cost, in turns of work, one chunk of memory.
 *
 * Invariants: every reader gets the render's bytes from the start, in order, each once; the chunks
 * held are consecutive from index `first`; `heldBytes` is at most `windowBytes` once a read is
 * done; a failure (the render threw: a bug) is thrown to every reader that reads on; `onIdle`
 * runs each time the last reader leaves (the cache, shared_bodies.ts, decides what to do).
 */
import { Deque } from "../../queue/deque.ts";
import { RenderChunks, type Chunk, type ChunkSource, type Render } from "./render_chunks.ts";

const NOTHING = new Uint8Array(0);

export class SharedBody {
  private readonly maker: RenderChunks;
  private readonly chunks = new Deque<Uint8Array>();
  /** The index of the oldest chunk held. */
  private first = 0;
  private held = 0;
  private done = false;
  private failure: { readonly error: unknown } | null = null;
  private readonly readers = new Set<SharedReader>();

  constructor(
    private readonly render: Render,
    private readonly onMade: (bytes: number) => void,
    private readonly windowBytes: number,
    private readonly onIdle: () => void,
  ) {
    this.maker = new RenderChunks(render, onMade);
  }

  /** A new reader may start from the beginning. */
  get joinable(): boolean {
    return this.first === 0 && this.failure === null;
  }

  get heldBytes(): number {
    return this.held;
  }

  /** A reader from the start of the body. */
  reader(): ChunkSource {
    const reader = new SharedReader(this);
    this.readers.add(reader);
    return reader;
  }

  /** Lets the render go (once no reader is left). */
  close(): void {
    this.maker.close();
    this.chunks.clear();
    this.held = 0;
  }

  /** The reader's next chunk: one already made, or this turn's. */
  readFor(reader: SharedReader): Chunk {
    if (this.failure !== null) throw this.failure.error;
    if (reader.index < this.first) return this.continueAlone(reader);
    if (reader.index === this.first + this.chunks.length && !this.done) this.make();
    const bytes = this.chunks.at(reader.index - this.first);
    if (bytes === undefined) return { bytes: NOTHING, done: this.done };
    reader.index++;
    reader.position += bytes.length;
    this.trim();
    return { bytes, done: this.done && reader.index === this.first + this.chunks.length };
  }

  leave(reader: SharedReader): void {
    if (this.readers.delete(reader) && this.readers.size === 0) this.onIdle();
  }

  private make(): void {
    let chunk: Chunk;
    try {
      chunk = this.maker.next();
    } catch (error) {
      this.failure = { error };
      throw error;
    }
    this.done = chunk.done;
    if (chunk.bytes.length === 0) return;
    this.chunks.push(chunk.bytes);
    this.held += chunk.bytes.length;
  }

  /** Lets the oldest chunks go: past the window, or, once the body can't be joined, read by every reader. */
  private trim(): void {
    for (;;) {
      const oldest = this.chunks.peek();
      if (oldest === undefined) return;
      if (this.held <= this.windowBytes && (this.first === 0 || this.needed(this.first))) return;
      this.chunks.shift();
      this.held -= oldest.length;
      this.first++;
    }
  }

  private needed(index: number): boolean {
    for (const reader of this.readers) if (reader.index <= index) return true;
    return false;
  }

  /** The reader's next chunk went: from now on it reads a render of its own, from its position. */
  private continueAlone(reader: SharedReader): Chunk {
    const own = new RenderChunks(this.render, this.onMade, reader.position);
    reader.continueWith(own);
    this.leave(reader);
    return own.next();
  }
}

/** A position in a shared body (or, once it fell behind it, a continuation of its own). */
class SharedReader implements ChunkSource {
  /** The index of the next chunk to read, and the bytes read so far. */
  index = 0;
  position = 0;
  private own: RenderChunks | null = null;
  private closed = false;

  constructor(private readonly body: SharedBody) {}

  next(): Chunk {
    return this.own !== null ? this.own.next() : this.body.readFor(this);
  }

  continueWith(own: RenderChunks): void {
    this.own = own;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.own !== null) this.own.close();
    else this.body.leave(this);
  }
}
