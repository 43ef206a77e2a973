/**
 * `consume`: workers that open items of a queue anywhere in the cluster and hand each to a
 * handler, until the signal aborts or the client closes.
 *
 * Invariants, per item: it is confirmed (`close`) only after the handler's promise resolved, and
 * given back (`abort`) when the handler threw; if the process dies mid-handler the server gives
 * it back by itself (it was only opened). After a success the worker confirms the item and opens
 * the next one on the same connection in one round trip (`get q/close/open`), and goes looking on
 * other servers when that one has none.
 *
 * Stopping: once the signal aborts, no handler is started; a blocking read in flight is cut off
 * by closing its connection (an item opened on it goes back to the server); handlers already
 * running finish and their items are confirmed or given back; then `consume` resolves. Errors
 * (from handlers, or no server reachable for a while) go to `onError` and the workers carry on.
 */
import { type ClientCore, sleep } from "./core.ts";
import { AbortedError, ClientClosedError } from "./errors.ts";
import type { OpenItem } from "./open_item.ts";
import { openItem } from "./reads.ts";

export interface ConsumeOptions {
  /** Items handled at the same time (one worker each); 1 unless given. */
  readonly concurrency?: number;
  /** Stops the workers (see above); without it, consume runs until the client is closed. */
  readonly signal?: AbortSignal;
  /** Told of every handler that threw and every failure to reach the servers. */
  readonly onError?: (error: unknown) => void;
}

export type Handler = (data: Uint8Array) => Promise<void> | void;

/** How long one search for an item lasts before a worker checks whether to stop (reads are cut off by the signal anyway). */
const SEARCH_MS = 5000;

export async function consumeQueue(core: ClientCore, queue: string, handler: Handler, options: ConsumeOptions = {}): Promise<void> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, not ${concurrency}`);
  await Promise.all(Array.from({ length: concurrency }, () => work(core, queue, handler, options)));
}

async function work(core: ClientCore, queue: string, handler: Handler, options: ConsumeOptions): Promise<void> {
  const { signal, onError = () => {} } = options;
  const stopping = () => core.closed || signal?.aborted === true;
  let item: OpenItem | null = null;
  while (!stopping()) {
    try {
      item ??= await openItem(core, queue, SEARCH_MS, signal);
    } catch (error) {
      if (error instanceof AbortedError || error instanceof ClientClosedError) break;
      onError(error);
      await sleep(core.settings.pollSliceMs, signal);
      continue;
    }
    if (item === null) continue;
    // Stopped while the item was being opened: it goes back unhandled (below).
    if (stopping()) break;
    item = await handle(item, handler, stopping, onError);
  }
  await item?.abort();
}

/** Runs the handler on `item`; returns the next item already opened on its connection, if any. */
async function handle(item: OpenItem, handler: Handler, stopping: () => boolean, onError: (error: unknown) => void): Promise<OpenItem | null> {
  try {
    await handler(item.data);
  } catch (error) {
    onError(error);
    await item.abort();
    return null;
  }
  try {
    if (!stopping()) return await item.closeAndOpenNext();
    await item.close();
  } catch (error) {
    onError(error);
  }
  return null;
}
