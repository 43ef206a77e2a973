/**
 * Runs a command on a real pseudo-terminal (util-linux `script`), so interactive prompts behave as
 * for a person at a terminal; tests wait for text to appear, then type.
 */
import type { Subprocess } from "bun";

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;

export const KEYS = { enter: "\r", down: "\x1b[B", ctrlC: "\x03" } as const;

export class PtySession {
  private raw = "";
  private wake: (() => void) | null = null;
  private ended = false;
  private readonly proc: Subprocess<"pipe", "pipe", "pipe">;

  constructor(command: readonly string[], cwd: string) {
    const quoted = command.map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(" ");
    // A pty made by script has no size: give it one, or prompts wrap at every character.
    const proc = Bun.spawn(["script", "-q", "-e", "-c", `stty cols 120 rows 40; exec ${quoted}`, "/dev/null"], {
      cwd,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TERM: "xterm-256color" },
    });
    this.proc = proc;
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stdout) {
        this.raw += decoder.decode(chunk);
        this.notify();
      }
      this.ended = true;
      this.notify();
    })();
  }

  /** Everything shown so far, without terminal escape sequences. */
  get screen(): string {
    return this.raw.replace(ANSI, "");
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Waits until `pattern` appears on the screen (after `since` characters). */
  async waitFor(pattern: string | RegExp, since = 0): Promise<string> {
    for (;;) {
      const screen = this.screen.slice(since);
      const match = typeof pattern === "string" ? (screen.includes(pattern) ? pattern : null) : pattern.exec(screen)?.[0];
      if (match != null) return match;
      if (this.ended) throw new Error(`the program ended without showing ${pattern}:\n${this.screen}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Waits for `prompt`, then types `keys`. */
  async answer(prompt: string, keys: string): Promise<void> {
    await this.waitFor(prompt);
    this.proc.stdin.write(keys);
    this.proc.stdin.flush();
  }

  exited(): Promise<number> {
    return this.proc.exited;
  }

  kill(): void {
    this.proc.kill("SIGKILL");
  }
}
