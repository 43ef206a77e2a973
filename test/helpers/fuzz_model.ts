/**
 * What a kestrel server must answer, on one connection, to each request of fuzz_requests.ts: a
 * model of the queues the requests touch (items in order, with their flags and ids, the cas
 * unique of `gets`; which queues exist, since a `set` to `<p>a` also goes to its fanout child
 * `<p>a+c` only once that exists, and a queue made anew numbers its items from 1 again) and of
 * the connection's open item per queue, following docs/protocol.md. Replies are exact bytes, except those whose
 * text the model doesn't know (`version`, `stats`, a CLIENT_ERROR's reason), which are patterns.
 *
 * The model assumes it is alone with its queues (the prefix is the case's own) and that no item
 * expires (the requests' exptimes are 0 or in the future).
 */
import { isValidQueueName } from "../../src/queue_name.ts";
import { bytes, concat } from "./bytes.ts";
import { getKeyText, queueName, type GetKey, type RequestSpec } from "./fuzz_requests.ts";

export type ExpectedReply =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "line"; readonly pattern: RegExp }
  | { readonly kind: "lines-until-end" };

const exact = (text: string): ExpectedReply => ({ kind: "bytes", bytes: bytes(text) });
const NONE = exact("");
const CLIENT_ERROR: ExpectedReply = { kind: "line", pattern: /^CLIENT_ERROR \S/ };

interface ModelItem {
  readonly data: Uint8Array;
  readonly flags: number;
  readonly id: number;
}

interface ParsedKey {
  readonly name: string;
  readonly timeoutMs: number;
  readonly open: boolean;
  readonly close: boolean;
  readonly abort: boolean;
  readonly peek: boolean;
}

/** A get key's meaning, or null if the server must refuse it (docs/protocol.md, get). */
function parseKey(key: GetKey, prefix: string): ParsedKey | null {
  const name = queueName(prefix, key.slot);
  if (!isValidQueueName(name)) return null;
  const flags = { name, timeoutMs: 0, open: false, close: false, abort: false, peek: false };
  for (const written of key.options) {
    const option = written.toLowerCase();
    if (option === "open" || option === "close" || option === "abort" || option === "peek") flags[option] = true;
    else if (/^t=-?\d+$/.test(option)) flags.timeoutMs = Math.max(Number(option.slice(2)), 0);
    else if (option !== "") return null;
  }
  if (flags.peek && (flags.open || flags.close || flags.abort)) return null;
  if (flags.abort && (flags.open || flags.close)) return null;
  return flags;
}

export class ServerModel {
  /** Existing queues and their items, head first. */
  private readonly queues = new Map<string, ModelItem[]>();
  /** The id of each existing queue's next item. */
  private readonly nextIds = new Map<string, number>();
  /** This connection's open item per queue. */
  private readonly open = new Map<string, ModelItem>();

  constructor(private readonly prefix: string) {}

  /** The reply to `spec`, and the queues changed as the server changes them. */
  reply(spec: RequestSpec): ExpectedReply {
    const name = "slot" in spec ? queueName(this.prefix, spec.slot) : "";
    const quiet = "noreply" in spec && spec.noreply;
    switch (spec.kind) {
      case "set":
        if (!isValidQueueName(name)) return quiet ? NONE : exact(`CLIENT_ERROR bad queue name '${name}'\r\n`);
        this.add(name, spec.data, spec.flags);
        return quiet ? NONE : exact("STORED\r\n");
      case "bad-set":
        return quiet ? NONE : exact("CLIENT_ERROR bad command line format\r\n");
      case "other-storage":
        return quiet ? NONE : exact("ERROR\r\n");
      case "get":
        return this.get(spec.keys, spec.command === "gets");
      case "queue-command":
        if (!isValidQueueName(name)) return quiet ? NONE : exact(`CLIENT_ERROR bad queue name '${name}'\r\n`);
        return this.queueCommand(spec.command, name, quiet);
      case "command":
        return this.command(spec.command);
      case "unknown":
        return exact("ERROR\r\n");
    }
  }

  private add(name: string, data: Uint8Array, flags: number): void {
    for (const queue of [name, ...[...this.queues.keys()].filter((child) => child.startsWith(`${name}+`))]) {
      const id = this.nextIds.get(queue) ?? 1;
      this.nextIds.set(queue, id + 1);
      this.itemsOf(queue).push({ data, flags, id });
    }
  }

  private itemsOf(name: string): ModelItem[] {
    let items = this.queues.get(name);
    if (items === undefined) this.queues.set(name, (items = []));
    return items;
  }

  /**
   * Every key is parsed before any queue is named (a bad one refuses the get and creates nothing),
   * then each key's queue is created in turn and checked for an open beyond max_open_transactions
   * (1 here) or a plain take while an item is open, counting the closes and aborts of the keys
   * before it; only then is any served.
   */
  private get(requested: readonly GetKey[], cas: boolean): ExpectedReply {
    // A key repeated (the same text) is served once.
    const keys = [...new Map(requested.map((key) => [getKeyText(key, this.prefix), key])).values()];
    const parsed = keys.map((key) => parseKey(key, this.prefix));
    if (parsed.includes(null)) return CLIENT_ERROR;
    const openAfter = new Map<string, number>();
    for (const request of parsed as ParsedKey[]) {
      this.itemsOf(request.name);
      const held = openAfter.get(request.name) ?? (this.open.has(request.name) ? 1 : 0);
      const open = request.close || request.abort ? 0 : held;
      // A second open on a queue, whether already open or opened by an earlier key of this get;
      // or a plain take from a queue with an item open (Kestrel's non-transactional fetch).
      if (request.open && open >= 1) return exact("ERROR\r\n");
      if (!request.open && !request.close && !request.abort && !request.peek && open >= 1) return exact("ERROR\r\n");
      openAfter.set(request.name, request.open ? 1 : open);
    }
    const parts = keys.map((key, i) => this.serve(parsed[i]!, getKeyText(key, this.prefix), cas));
    return { kind: "bytes", bytes: concat(...parts, bytes("END\r\n")) };
  }

  private serve(request: ParsedKey, keyText: string, cas: boolean): Uint8Array {
    const items = this.itemsOf(request.name);
    const openItem = this.open.get(request.name);
    if (openItem !== undefined && (request.close || request.abort)) {
      this.open.delete(request.name);
      if (request.abort) items.unshift(openItem);
    }
    if (request.abort || (request.close && !request.open)) return new Uint8Array(0);
    const item = request.peek ? items[0] : items.shift();
    if (item === undefined) return new Uint8Array(0);
    if (request.open) this.open.set(request.name, item);
    return concat(bytes(`VALUE ${keyText} ${item.flags} ${item.data.length}${cas ? ` ${item.id}` : ""}\r\n`), item.data, bytes("\r\n"));
  }

  private queueCommand(command: "delete" | "flush" | "flush_expired", name: string, quiet: boolean): ExpectedReply {
    if (command === "delete") {
      this.queues.delete(name);
      this.nextIds.delete(name);
      this.open.delete(name);
      return quiet ? NONE : exact("DELETED\r\n");
    }
    if (command === "flush") this.queues.get(name)?.splice(0);
    return quiet ? NONE : exact(command === "flush" ? "END\r\n" : "0\r\n");
  }

  private command(command: string): ExpectedReply {
    switch (command) {
      case "version":
        return { kind: "line", pattern: /^VERSION \S+$/ };
      case "flush_all":
        for (const items of this.queues.values()) items.splice(0);
        return exact("Flushed all queues.\r\n");
      case "flush_all_expired":
        return { kind: "line", pattern: /^\d+$/ };
      case "reload":
        return exact("Reloaded config.\r\n");
      default:
        return { kind: "lines-until-end" };
    }
  }
}
