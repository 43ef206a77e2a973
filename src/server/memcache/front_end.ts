/**
 * The memcache text protocol as a connection's front end (front_end.ts): RequestParser frames,
 * execute.ts runs them. A broken stream is answered and closed; a binary-protocol client gets one
 * binary refusal (binary_protocol.ts). Before authenticating, a connection's requests are held to
 * MAX_AUTH_REQUEST_BYTES (access.ts).
 */
import { maxRequestSizeFor } from "../access.ts";
import type { FrontEnd } from "../front_end.ts";
import { refuseBinaryRequest } from "./binary_protocol.ts";
import { asksNoReply, execute } from "./execute.ts";
import { line, serverError } from "./replies.ts";
import { type Frame, RequestParser } from "./request_parser.ts";
import { LIGHT_LINE_BYTES, isLight } from "./request_weight.ts";

/** The longest command line a client may send. */
export const MAX_LINE_LENGTH = 8192;

const INTERNAL_ERROR = serverError("internal error");

export const memcache: FrontEnd<Frame> = {
  name: "memcache",
  newParser: (maxRequestSize) => new RequestParser(MAX_LINE_LENGTH, maxRequestSize),
  lightLineBytes: LIGHT_LINE_BYTES,
  isLight,
  heldBytes: (frame) => (frame.kind === "set" ? frame.data.length : 0),
  closingReply(frame, session) {
    if (frame.kind === "fatal") return line(frame.reply);
    return frame.kind === "binary" ? refuseBinaryRequest(frame.header, session.peer) : null;
  },
  requestLimit: maxRequestSizeFor,
  execute(frame, session, ctx) {
    // closingReply answered fatal and binary frames: they never get here.
    if (frame.kind !== "fatal" && frame.kind !== "binary") execute(frame, session, ctx);
  },
  describe: (frame) => (frame.kind === "line" ? frame.command : frame.kind),
  internalError: (frame) => (asksNoReply(frame) ? null : INTERNAL_ERROR),
  refuseConnection: serverError,
};
