/**
 * The admin replies' shared bodies (shared_body.ts), by what they send: a request gets a reader
 * of the body for its key while that body can be joined (it still holds its beginning), else a
 * new body for the key. At most `maxBodies` exist at once, being read or kept: a body is kept
 * `lingerMs` after its last reader leaves, for requests that come a moment later for the same
 * bytes (/history.json of the same samples: they change once a second), then let go; 0 lets it go
 * at once (a snapshot's reports: a later request waits for a later snapshot). A new body first
 * takes the place of the body kept longest; with every place taken by bodies being read, the
 * request gets a body of its own, unshared, as before sharing.
 *
 * Only bodies whose bytes depend on the key alone may be shared: /config.json is not (the config
 * it shows changes on reload, and queues come and go while it is sent).
 *
 * Invariants: `alive` counts the bodies made and not let go (being read or kept), at most
 * `maxBodies`; `byKey` holds the newest body of each key; a kept body has no reader and one timer,
 * cancelled when a reader joins or it is let go; a body is let go once.
 */
import { RenderChunks, type ChunkSource, type Render } from "./render_chunks.ts";
import { SharedBody } from "./shared_body.ts";

/** Shared bodies that may exist at once. */
export const MAX_SHARED_BODIES = 3;
/** The chunks a shared body holds at most: what its slowest reader may still need. */
export const SHARED_WINDOW_BYTES = 4 * 1024 * 1024;

/** Runs `run` after `ms`; returns how to cancel it. */
export type Schedule = (run: () => void, ms: number) => () => void;

const afterTimeout: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export class SharedBodies {
  private readonly byKey = new Map<string, SharedBody>();
  /** Bodies without readers, kept until their timer (oldest first), and how to cancel it. */
  private readonly kept = new Map<SharedBody, { readonly key: string; readonly cancel: () => void }>();
  private alive = 0;

  constructor(
    private readonly maxBodies = MAX_SHARED_BODIES,
    private readonly windowBytes = SHARED_WINDOW_BYTES,
    private readonly schedule: Schedule = afterTimeout,
  ) {}

  /** Bodies being read or kept. */
  get size(): number {
    return this.alive;
  }

  /**
   * A reader of the body for `key`, made by `render` if no body for it can be joined; `onMade`
   * hears of the bytes a body made for it makes.
   */
  reader(key: string, render: Render, onMade: (bytes: number) => void, lingerMs: number): ChunkSource {
    const held = this.byKey.get(key);
    if (held?.joinable === true) {
      this.unkeep(held);
      return held.reader();
    }
    if (this.alive >= this.maxBodies) this.letGoOldestKept();
    if (this.alive >= this.maxBodies) return new RenderChunks(render, onMade);
    const body: SharedBody = new SharedBody(render, onMade, this.windowBytes, () => this.idle(key, body, lingerMs));
    this.alive++;
    this.byKey.set(key, body);
    return body.reader();
  }

  private idle(key: string, body: SharedBody, lingerMs: number): void {
    if (lingerMs <= 0 || !body.joinable || this.byKey.get(key) !== body) return this.letGo(key, body);
    this.kept.set(body, { key, cancel: this.schedule(() => this.letGo(key, body), lingerMs) });
  }

  private letGoOldestKept(): void {
    const oldest = this.kept.entries().next();
    if (oldest.done !== true) this.letGo(oldest.value[1].key, oldest.value[0]);
  }

  private letGo(key: string, body: SharedBody): void {
    this.unkeep(body);
    if (this.byKey.get(key) === body) this.byKey.delete(key);
    body.close();
    this.alive--;
  }

  private unkeep(body: SharedBody): void {
    this.kept.get(body)?.cancel();
    this.kept.delete(body);
  }
}
