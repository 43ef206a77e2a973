/**
 * The few libc calls that neither Node's API nor Bun's offers, through bun:ffi, loaded on first
 * use: `syncfs` (write one file system to disk), `dup`/`close` (a cheap look at whether
 * descriptors are free), `getpagesize` (the unit of /proc's memory figures) and `execve` (run
 * again with another environment). Null where glibc can't be loaded (not Linux): callers fall
 * back or say why they can't.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

export interface Libc {
  /** syncfs(2): 0, or -1 on failure. */
  syncfs(fd: number): number;
  /** dup(2): the new descriptor, or -1 (for a descriptor that is open: none free, EMFILE). */
  dup(fd: number): number;
  close(fd: number): number;
  /** getpagesize(2): bytes in a memory page. */
  getpagesize(): number;
  /**
   * execve(2): replaces this process's program (same process id); returns -1 only if it could
   * not. `args` and `env` are C strings' bytes (without their NUL), passed on as they are.
   */
  execve(path: string, args: readonly Uint8Array[], env: readonly Uint8Array[]): number;
}

let loaded: Libc | null | undefined;
const NUL = new Uint8Array(1);

export function libc(): Libc | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}

function load(): Libc | null {
  if (process.platform !== "linux") return null;
  try {
    const { symbols } = dlopen("libc.so.6", {
      syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
      dup: { args: [FFIType.i32], returns: FFIType.i32 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
      getpagesize: { args: [], returns: FFIType.i32 },
      execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    });
    return {
      syncfs: (fd) => symbols.syncfs(fd),
      dup: (fd) => symbols.dup(fd),
      close: (fd) => symbols.close(fd),
      getpagesize: () => symbols.getpagesize(),
      execve: (path, args, env) => {
        // The strings must stay reachable until the call returns: `held` keeps them.
        const held: Buffer[] = [];
        const cString = (bytes: Uint8Array) => {
          const terminated = Buffer.concat([bytes, NUL]);
          held.push(terminated);
          return ptr(terminated);
        };
        const cArray = (strings: readonly Uint8Array[]) => BigUint64Array.from([...strings.map((bytes) => BigInt(cString(bytes))), 0n]);
        return symbols.execve(cString(Buffer.from(path, "utf8")), ptr(cArray(args)), ptr(cArray(env)));
      },
    };
  } catch {
    return null;
  }
}
