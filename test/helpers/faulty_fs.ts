/**
 * Fault injection under the journal: swaps the members of `fileSystem` (src/journal/files.ts) for
 * ones that make chosen calls fail with an errno error (ENOSPC, EMFILE, EACCES, EIO, ...) or
 * write short, only on matching paths, after a number of calls that pass, for a number of times;
 * or kill the process right before the call (kill -9, in a spawned server): a crash at that step;
 * or leave a call done off the event loop hanging (a slow disk), so a test can crash it mid-way.
 *
 * In a test: `const faults = FaultInjector.install()`, then `faults.set([...])`, `faults.clear()`
 * and, at the end, `faults.uninstall()`. In a spawned server: test/helpers/faulty_fs_preload.ts.
 *
 * Invariants: with no faults set every call goes to the real file system unchanged; a failing
 * call does nothing (but a short write, which writes the first half of its bytes, as a disk that
 * fills does); `calls` counts the calls that matched each fault, so a test can first count the
 * calls a scenario makes and then fail each one in turn.
 */
import { fileSystem, type FileSystem } from "../../src/journal/files.ts";

export type FaultCode = "ENOSPC" | "EMFILE" | "EACCES" | "EIO" | "EROFS";
/**
 * What a matching call does: fail with an errno code, (SIGKILL) kill the process before it is
 * made, or (HANG, for the calls done off the event loop) never be made nor report back, as a disk
 * that takes forever would: work waiting on it stays under way, for a test to kill the process then.
 */
export type FaultEffect = FaultCode | "SIGKILL" | "HANG";
export type FaultOp = keyof FileSystem;
/** How an operation done off the event loop reports back. */
type Done = (error: Error | null) => void;

export interface Fault {
  readonly op: FaultOp;
  readonly code: FaultEffect;
  /** A regular expression (source text) the path must match; for calls on a descriptor, the path it was opened with. */
  readonly path?: string;
  /** Let this many matching calls through first. */
  readonly after?: number;
  /** Fail this many matching calls, then let them through again (default: all of them). */
  readonly times?: number;
  /** writev only: the first failing call writes half its bytes and returns, as a disk filling up does. */
  readonly short?: boolean;
}

interface ActiveFault extends Fault {
  readonly pattern: RegExp | null;
  seen: number;
  failed: number;
}

const ERRNO: Record<FaultCode, number> = { ENOSPC: -28, EMFILE: -24, EACCES: -13, EIO: -5, EROFS: -30 };

export function faultError(code: FaultCode, op: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${op} '${path}'`), { code, errno: ERRNO[code], syscall: op, path });
}

export class FaultInjector {
  private faults: ActiveFault[] = [];
  private paused = false;
  private readonly paths = new Map<number, string>();
  private readonly real: FileSystem = { ...fileSystem };
  /** Calls made to fail (or write short) since the faults were set. */
  hits = 0;

  private constructor() {}

  static install(): FaultInjector {
    const injector = new FaultInjector();
    injector.wrap();
    return injector;
  }

  set(faults: readonly Fault[]): void {
    this.faults = faults.map((fault) => ({ ...fault, pattern: fault.path === undefined ? null : new RegExp(fault.path), seen: 0, failed: 0 }));
    this.hits = 0;
  }

  clear(): void {
    this.set([]);
  }

  /** How many calls matched each fault so far (whether they failed or not). */
  get calls(): number[] {
    return this.faults.map((fault) => fault.seen);
  }

  uninstall(): void {
    Object.assign(fileSystem, this.real);
  }

  /** Runs `action` with every call going through (and not counted), then the faults go on as before. */
  withoutFaults<T>(action: () => T): T {
    this.paused = true;
    try {
      return action();
    } finally {
      this.paused = false;
    }
  }

  /** The fault that decides this call, if it must fail. */
  private failing(op: FaultOp, paths: readonly string[]): ActiveFault | null {
    if (this.paused) return null;
    for (const fault of this.faults) {
      if (fault.op !== op || (fault.pattern !== null && !paths.some((path) => fault.pattern!.test(path)))) continue;
      fault.seen++;
      if (fault.seen <= (fault.after ?? 0) || fault.failed >= (fault.times ?? Infinity)) continue;
      fault.failed++;
      this.hits++;
      return fault;
    }
    return null;
  }

  private check(op: FaultOp, ...paths: string[]): void {
    const fault = this.failing(op, paths);
    if (fault !== null) raise(fault.code, op, paths[0]!);
  }

  /** An operation done off the event loop: made (`call`), or its fault told to `done` in a later turn (or the process killed now). */
  private checkAsync(op: FaultOp, syscall: string, path: string, done: Done, call: () => void): void {
    const fault = this.failing(op, [path]);
    if (fault === null) return call();
    if (fault.code === "HANG") return;
    if (fault.code === "SIGKILL") return raise(fault.code, syscall, path);
    const error = faultError(fault.code, syscall, path);
    setImmediate(() => done(error));
  }

  private pathOf(fd: number): string {
    return this.paths.get(fd) ?? `fd ${fd}`;
  }

  private wrap(): void {
    const real = this.real;
    const byFd = <A extends unknown[], R>(op: FaultOp, call: (fd: number, ...rest: A) => R) => (fd: number, ...rest: A): R => {
      this.check(op, this.pathOf(fd));
      return call(fd, ...rest);
    };
    const byPath = <A extends unknown[], R>(op: FaultOp, call: (path: string, ...rest: A) => R) => (path: string, ...rest: A): R => {
      this.check(op, path);
      return call(path, ...rest);
    };
    Object.assign(fileSystem, {
      open: (path: string, flags: Parameters<FileSystem["open"]>[1], mode?: number) => {
        this.check("open", path);
        const fd = real.open(path, flags, mode);
        this.paths.set(fd, path);
        return fd;
      },
      close: (fd: number) => {
        this.paths.delete(fd);
        real.close(fd);
      },
      writev: (fd: number, chunks: readonly Uint8Array[]) => {
        const fault = this.failing("writev", [this.pathOf(fd)]);
        if (fault === null) return real.writev(fd, chunks);
        if (fault.short && fault.failed === 1) return real.writev(fd, firstHalf(chunks));
        return raise(fault.code, "writev", this.pathOf(fd));
      },
      read: byFd("read", real.read),
      fstat: byFd("fstat", real.fstat),
      stat: byPath("stat", real.stat),
      fsync: byFd("fsync", real.fsync),
      syncFileSystem: byPath("syncFileSystem", real.syncFileSystem),
      fsyncAsync: (fd: number, done: Done) => this.checkAsync("fsyncAsync", "fsync", this.pathOf(fd), done, () => real.fsyncAsync(fd, done)),
      syncFileSystemReady: real.syncFileSystemReady,
      syncFileSystemAsync: (dir: string, done: Done) => this.checkAsync("syncFileSystemAsync", "syncfs", dir, done, () => real.syncFileSystemAsync(dir, done)),
      ftruncate: byFd("ftruncate", real.ftruncate),
      truncate: byPath("truncate", real.truncate),
      rename: (from: string, to: string) => {
        this.check("rename", from, to);
        real.rename(from, to);
        for (const [fd, path] of this.paths) if (path === from) this.paths.set(fd, to);
      },
      link: (existing: string, newPath: string) => {
        this.check("link", existing, newPath);
        real.link(existing, newPath);
      },
      remove: byPath("remove", real.remove),
      removeAsync: (path: string, done: Done) => this.checkAsync("removeAsync", "remove", path, done, () => real.removeAsync(path, done)),
      removeDirectory: byPath("removeDirectory", real.removeDirectory),
      mkdir: byPath("mkdir", real.mkdir),
      readdir: byPath("readdir", real.readdir),
      readFile: byPath("readFile", real.readFile),
    } satisfies FileSystem);
  }
}

/** Throws the fault's error, or kills this process at once (kill -9: nothing after it runs). */
function raise(effect: FaultEffect, op: string, path: string): never {
  if (effect === "SIGKILL") {
    process.kill(process.pid, "SIGKILL");
    throw new Error("killed");
  }
  if (effect === "HANG") throw new Error(`HANG is for calls done off the event loop, not ${op} '${path}'`);
  throw faultError(effect, op, path);
}

/** The first half (at least one byte) of the bytes in `chunks`. */
function firstHalf(chunks: readonly Uint8Array[]): Uint8Array[] {
  let left = Math.max(1, Math.floor(chunks.reduce((sum, chunk) => sum + chunk.length, 0) / 2));
  const half: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (left === 0) break;
    half.push(chunk.subarray(0, Math.min(left, chunk.length)));
    left -= Math.min(left, chunk.length);
  }
  return half;
}
