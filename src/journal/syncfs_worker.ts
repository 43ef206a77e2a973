/**
 * syncfs(2) off the event loop: one worker thread that syncs the file system holding a directory
 * and says whether that worked. One syncfs stands for the fsyncs of every file written on that
 * file system (about 2 ms for 100 journals here, where 100 fsyncs on Bun's small thread pool take
 * 11-15 ms).
 *
 * The worker is made from a Blob of its own source, so the single binary needs no file beside it.
 * It starts on first use; until it has answered once (about 5 ms from source, 100 ms in the
 * binary), and for good if it can't start or dies, `syncfsReady()` is false and callers fsync file
 * by file. Only where syncfs reports write-back errors (Linux 5.8 and later, with glibc): before
 * that it could return 0 after a failed write-back, and a journal would call lost bytes durable.
 *
 * Invariant: every `syncFileSystemAsync` callback runs once: with the worker's answer, or with an
 * error if the worker died first.
 */
import { release } from "node:os";
import { libc } from "../libc.ts";

/** The worker: bun:ffi's syncfs on a descriptor kept per directory. Plain JavaScript, run from a Blob. */
const WORKER_SOURCE = `
const { dlopen, FFIType } = require("bun:ffi");
const { openSync } = require("node:fs");
const { symbols } = dlopen("libc.so.6", { syncfs: { args: [FFIType.i32], returns: FFIType.i32 } });
const descriptors = new Map();
self.onmessage = (event) => {
  const { id, dir } = event.data;
  try {
    let fd = descriptors.get(dir);
    if (fd === undefined) descriptors.set(dir, (fd = openSync(dir, "r")));
    postMessage({ id, error: symbols.syncfs(fd) === 0 ? null : "syncfs returned -1" });
  } catch (error) {
    postMessage({ id, error: String(error) });
  }
};
postMessage({ id: 0, error: null });
`;

type Done = (error: Error | null) => void;

let worker: Worker | null = null;
let state: "unstarted" | "starting" | "ready" | "unusable" = "unstarted";
let nextId = 1;
const pending = new Map<number, { readonly dir: string; readonly done: Done }>();

/** Whether `syncFileSystemAsync` can be used now; the first call starts the worker (false until it is up). */
export function syncfsReady(): boolean {
  if (state === "unstarted") start();
  return state === "ready";
}

/** Syncs the file system holding `dir` in the worker; `done` gets null, or the error. Only once `syncfsReady()`. */
export function syncFileSystemAsync(dir: string, done: Done): void {
  if (worker === null || state !== "ready") return queueMicrotask(() => done(new Error("the syncfs worker is not running")));
  const id = nextId++;
  pending.set(id, { dir, done });
  worker.postMessage({ id, dir });
}

function start(): void {
  state = "unusable";
  if (!syncfsReportsErrors() || libc() === null) return;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })));
  } catch {
    return;
  }
  state = "starting";
  worker.unref();
  worker.onmessage = (event: MessageEvent<{ readonly id: number; readonly error: string | null }>) => answered(event.data.id, event.data.error);
  worker.onerror = () => died();
  worker.addEventListener("close", died);
}

function answered(id: number, error: string | null): void {
  if (id === 0) {
    if (state === "starting") state = "ready";
    return;
  }
  const request = pending.get(id);
  if (request === undefined) return;
  pending.delete(id);
  request.done(error === null ? null : new Error(`syncfs of the file system holding ${request.dir} failed: ${error}`));
}

/** The worker is gone: what it was asked is unknown, so those callers hear of a failure; no more syncfs. */
function died(): void {
  state = "unusable";
  worker = null;
  const lost = [...pending.values()];
  pending.clear();
  for (const request of lost) request.done(new Error(`syncfs of the file system holding ${request.dir}: the worker thread stopped`));
}

/** Linux 5.8 and later report write-back errors from syncfs (errseq on the super block). */
function syncfsReportsErrors(): boolean {
  if (process.platform !== "linux") return false;
  const [major = 0, minor = 0] = release().split(".").map((part) => Number.parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 8);
}
