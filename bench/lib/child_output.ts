/**
 * What a benchmark's child process writes, in one of two ways:
 *   PipeOutput  stdout and stderr are pipes read as they come (the child blocks, or loses lines,
 *               when this process reads slower than it writes);
 *   FileOutput  stderr goes to a file read only when asked, so a flood of log lines costs the child
 *               nothing but its own writes, and costs this process nothing while it measures.
 * Either keeps the recent text (the last 500 KB at least) and summarises every whole line of
 * stderr (`LogSummary`), and says when nothing more will come (`done`, after the child exited).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { LineSplitter, LogSummary } from "./server_log.ts";

/** Recent text kept: cut back to KEEP_CHARS once it passes MAX_CHARS. */
const MAX_CHARS = 1_000_000;
const KEEP_CHARS = 500_000;
const READ_BYTES = 1 << 20;

export interface ChildOutput {
  /** The recent output, the last 500 KB at least. */
  readonly text: string;
  /** Every WARN, ERROR and crash line of stderr so far, however much was written. */
  readonly summary: LogSummary;
  /** Resolves once everything the child wrote has been read (it has exited). */
  readonly done: Promise<void>;
}

/** Adds newly read text to the recent text and to the summary. */
class Reader {
  recent = "";
  readonly summary = new LogSummary();
  private readonly lines = new LineSplitter();

  take(text: string, summarise: boolean): void {
    this.recent += text;
    if (this.recent.length > MAX_CHARS) this.recent = this.recent.slice(-KEEP_CHARS);
    if (summarise) this.summary.add(this.lines.push(text));
  }
}

export class PipeOutput implements ChildOutput {
  private readonly reader = new Reader();
  readonly done: Promise<void>;

  constructor(stdout: ReadableStream<Uint8Array>, stderr: ReadableStream<Uint8Array>) {
    this.done = Promise.all([this.pump(stdout, false), this.pump(stderr, true)]).then(() => {});
  }

  get text(): string {
    return this.reader.recent;
  }

  get summary(): LogSummary {
    return this.reader.summary;
  }

  private async pump(stream: ReadableStream<Uint8Array>, summarise: boolean): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.reader.take(decoder.decode(chunk, { stream: true }), summarise);
  }
}

export class FileOutput implements ChildOutput {
  private readonly reader = new Reader();
  private readonly decoder = new TextDecoder();
  private readonly buffer = Buffer.alloc(READ_BYTES);
  private offset = 0;
  readonly done: Promise<void>;

  /** `path` receives the child's stderr; `exited` settles when the child has exited. */
  constructor(
    private readonly path: string,
    exited: Promise<unknown>,
  ) {
    this.done = exited.then(() => this.readNew());
  }

  get text(): string {
    this.readNew();
    return this.reader.recent;
  }

  get summary(): LogSummary {
    this.readNew();
    return this.reader.summary;
  }

  /** Reads what was written since the last read. */
  private readNew(): void {
    const fd = openSync(this.path, "r");
    try {
      for (let n = readSync(fd, this.buffer, 0, READ_BYTES, this.offset); n > 0; n = readSync(fd, this.buffer, 0, READ_BYTES, this.offset)) {
        this.offset += n;
        this.reader.take(this.decoder.decode(this.buffer.subarray(0, n), { stream: true }), true);
      }
    } finally {
      closeSync(fd);
    }
  }
}
