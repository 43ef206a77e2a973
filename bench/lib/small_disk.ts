/**
 * A small file system that can really fill up: a tmpfs mounted on a directory (needs root), a
 * filler file that takes every free byte, and freeing it again.
 *
 * Invariant: `unmount` leaves nothing mounted, also when called more than once or while a process
 * still has files open there (a lazy unmount), so every exit path of the soak can call it.
 */
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

const CHUNK = new Uint8Array(256 * 1024);

export class SmallDisk {
  private mounted = true;
  private readonly filler: string;

  private constructor(readonly dir: string) {
    this.filler = join(dir, "filler");
  }

  /** Mounts a tmpfs of `mib` MiB on `dir`; the reason it could not, as text. */
  static mount(dir: string, mib: number): SmallDisk | string {
    const result = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir], { stderr: "pipe" });
    if (result.exitCode === 0) return new SmallDisk(dir);
    return `mount -t tmpfs failed (exit ${result.exitCode}): ${result.stderr.toString().trim().split("\n")[0]}`;
  }

  /** Writes the filler until the disk is full; returns the bytes it took. Throws on errors other than ENOSPC. */
  fill(): number {
    const fd = openSync(this.filler, "a");
    let written = 0;
    try {
      for (;;) written += writeSync(fd, CHUNK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    } finally {
      closeSync(fd);
    }
    return written;
  }

  /** Removes the filler (nothing happens if there is none). */
  free(): void {
    try {
      unlinkSync(this.filler);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  unmount(): void {
    if (!this.mounted) return;
    this.mounted = false;
    Bun.spawnSync(["umount", "-l", this.dir]);
  }
}
