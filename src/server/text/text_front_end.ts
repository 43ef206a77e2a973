/**
 * Kestrel 2's text protocol as a connection's front end (front_end.ts): TextParser frames,
 * text_execute.ts runs them. A stream that can't be followed (a line or a put past its limit) is
 * answered and closed. Before authenticating, a connection's requests are held to
 * MAX_AUTH_REQUEST_BYTES (access.ts), as on the memcache port.
 *
 * Weight (turn_scheduler.ts): a fetch is heavy when the item it would hand out is big or waits on
 * disk (PersistentQueue.takeCost), as a memcache get is; a put when it holds more than
 * LIGHT_PUT_ITEMS items or LIGHT_ITEM_BYTES of them (it stands for that many memcache sets, and
 * is added over turns: set_in_turns.ts); everything else is light.
 */
import { maxRequestSizeFor } from "../access.ts";
import { bytesFrom } from "../commands/set_in_turns.ts";
import type { ServerContext } from "../context.ts";
import type { FrontEnd } from "../front_end.ts";
import { MAX_LINE_LENGTH } from "../memcache/front_end.ts";
import { LIGHT_ITEM_BYTES, LIGHT_LINE_BYTES } from "../memcache/request_weight.ts";
import { executeText } from "./text_execute.ts";
import { TextParser, type TextFrame } from "./text_parser.ts";
import { errorReply } from "./text_replies.ts";

const FETCHES: ReadonlySet<string> = new Set(["get", "peek", "monitor"]);
/** Items a light put may hold. */
export const LIGHT_PUT_ITEMS = 8;

function isLight(frame: TextFrame, ctx: ServerContext): boolean {
  if (frame.kind !== "request") return true;
  if (frame.command === "put") return frame.items.length <= LIGHT_PUT_ITEMS && bytesFrom(frame.items) <= LIGHT_ITEM_BYTES;
  if (!FETCHES.has(frame.command)) return true;
  const queue = frame.args[0];
  return queue === undefined || (ctx.queues.get(queue)?.takeCost() ?? 0) <= LIGHT_ITEM_BYTES;
}

const INTERNAL_ERROR = errorReply("Internal error.");

export const text: FrontEnd<TextFrame> = {
  name: "text",
  newParser: (maxRequestSize) => new TextParser(MAX_LINE_LENGTH, maxRequestSize),
  lightLineBytes: LIGHT_LINE_BYTES,
  isLight,
  heldBytes: (frame) => (frame.kind === "request" ? bytesFrom(frame.items) : 0),
  closingReply: (frame) => (frame.kind === "fatal" ? frame.reply : null),
  requestLimit: maxRequestSizeFor,
  execute(frame, session, ctx) {
    // A refused block was read to its end: the stream is in step, only this request is refused.
    if (frame.kind === "refused") session.outbox.push(frame.reply);
    else if (frame.kind === "request") executeText(frame, session, ctx);
  },
  describe: (frame) => (frame.kind === "request" ? frame.command : frame.kind),
  internalError: () => INTERNAL_ERROR,
  refuseConnection: errorReply,
};
