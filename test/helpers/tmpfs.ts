/**
 * A small tmpfs for tests that need a file system that really fills up (mounting needs root, as
 * CI has; `canMountTmpfs` says whether this machine allows it, so such tests can be skipped).
 *
 * `fillLeaving(bytes)` writes a filler file until only about `bytes` are free; `free()` deletes
 * it. `unmount()` also removes the mount point; nothing is left behind.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function mount(dir: string, size: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]).status === 0;
}

export const canMountTmpfs: boolean = (() => {
  const dir = mkdtempSync(join(tmpdir(), "kestrel-mount-probe-"));
  const ok = mount(dir, "64k");
  if (ok) spawnSync("umount", [dir]);
  rmSync(dir, { recursive: true, force: true });
  return ok;
})();

export class Tmpfs {
  private readonly filler: string;

  private constructor(readonly dir: string) {
    this.filler = join(dir, "filler.bin");
  }

  /** Mounts a tmpfs of `size` (e.g. "8m") on a new directory; the data directory is `dir/data`. */
  static mount(size: string): Tmpfs {
    const dir = mkdtempSync(join(tmpdir(), "kestrel-tmpfs-"));
    if (!mount(dir, size)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error("mount -t tmpfs failed (needs root)");
    }
    return new Tmpfs(dir);
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get freeBytes(): number {
    const stats = statfsSync(this.dir);
    return stats.bavail * stats.bsize;
  }

  /** Grows the filler until about `bytes` are left free (or nothing, for 0). */
  fillLeaving(bytes: number): void {
    const fd = openSync(this.filler, "a");
    const block = new Uint8Array(4096);
    try {
      while (this.freeBytes > bytes) writeSync(fd, block, 0, Math.min(block.length, this.freeBytes - bytes));
    } catch {
      // ENOSPC: the filler took what was left.
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes the filler: the space comes back. */
  free(): void {
    rmSync(this.filler, { force: true });
  }

  unmount(): void {
    try {
      unlinkSync(this.filler);
    } catch {
      // Not there.
    }
    // Lazy: a process still dying with files open there (a killed server) doesn't keep it mounted.
    spawnSync("umount", ["-l", this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
