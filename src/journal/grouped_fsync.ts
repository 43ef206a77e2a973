/**
 * Fsyncs journals ask for together, made together. While the flush scheduler writes a turn's
 * journals, and while the journals served by one syncfs hear of it, their fsync requests are
 * collected (`collectFsyncs`); at the end, when GROUP_MIN or more files of one directory want one
 * (many queues under `sync_journal = always`), one syncfs of their file system, in a worker
 * thread (syncfs_worker.ts), stands for all of them: its result is each one's. Fewer, or where
 * syncfs can't be used, each file gets its own fsync, as does a request made outside a collection
 * (an fsync that returned and starts the next): at once, as before.
 *
 * Invariant: every request's `done` runs once, after a sync that began after the request was made.
 */
import { dirname } from "node:path";
import { fileSystem } from "./files.ts";

/** Files of one directory wanting an fsync together from which one syncfs serves them all. */
const GROUP_MIN = 8;

type Done = (error: Error | null) => void;

interface FsyncRequest {
  readonly fd: number;
  readonly done: Done;
}

/** Requests collected and not sent yet, by directory. */
const waiting = new Map<string, FsyncRequest[]>();
/** Collections under way (they nest: a syncfs answered during a flush). */
let collecting = 0;
/** Syncfs calls sent since start (stats: `journal_syncfs`). */
let syncfsSent = 0;

export function syncfsCount(): number {
  return syncfsSent;
}

/** An fsync of `fd` (the file at `path`): sent now, or with the others of the collection under way. */
export function fsyncGrouped(path: string, fd: number, done: Done): void {
  if (collecting === 0) return fileSystem.fsyncAsync(fd, done);
  const dir = dirname(path);
  let group = waiting.get(dir);
  if (group === undefined) waiting.set(dir, (group = []));
  group.push({ fd, done });
}

/** Runs `work`; the fsyncs asked for meanwhile go out together when it ends (even by a throw). */
export function collectFsyncs(work: () => void): void {
  collecting++;
  try {
    work();
  } finally {
    if (--collecting === 0) send();
  }
}

/** Sends what waits: a syncfs per directory with GROUP_MIN requests or more, else an fsync each. */
function send(): void {
  if (waiting.size === 0) return;
  const groups = [...waiting];
  waiting.clear();
  for (const [dir, group] of groups) {
    if (group.length >= GROUP_MIN && fileSystem.syncFileSystemReady()) {
      syncfsSent++;
      fileSystem.syncFileSystemAsync(dir, (error) =>
        collectFsyncs(() => {
          for (const request of group) request.done(error);
        }),
      );
    } else {
      for (const request of group) fileSystem.fsyncAsync(request.fd, request.done);
    }
  }
}
