/**
 * `get`/`gets` in memcache terms: keys `<queue>[/options]` (get_options.ts) in, `VALUE` lines and
 * `END` out; the reads themselves are the command layer's (commands/read_items.ts).
 *
 * A key repeated in one get (the same string, options included) is served once: clients match
 * VALUE lines to the keys they asked for and keep one per key, so a second item under the same
 * key would be lost. Keys that differ at all (`q` and `q/peek`) each get their VALUE line, under
 * the key exactly as the client sent it. If a journal write fails after the items were taken, the
 * reply waits for the writer's retry (see `Commit.retry`).
 */
import { isFailure } from "../commands/failure.ts";
import { createInTurns, MADE_AT_ONCE } from "../commands/create_in_turns.ts";
import { MAX_NEW_QUEUES, newQueueNames, planReads, runReads, takeAtOnce, type ReadOutcome } from "../commands/read_items.ts";
import { replyInPlace } from "../commands/reply_in_place.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import type { OnFailure, ReplyPiece } from "../outbox.ts";
import { parseGetKeyCached, type GetRequest } from "./get_options.ts";
import { END, ERROR, appendValue, failure, serverError } from "./replies.ts";

/**
 * Items taken whose removal never reached the journal (the outbox waits for the writer's retries;
 * the server stopped with the disk still failing): the client gets an error and the items come
 * back at the next start.
 */
export const GET_FAILED: OnFailure = { reply: (error) => [serverError(error)] };

/** `withCas`: a `gets`, whose VALUE lines carry the cas unique. */
export function handleGet(keys: readonly string[], session: Session, ctx: ServerContext, withCas: boolean): void {
  if (keys.length === 0) return session.outbox.push(ERROR);
  if (keys.length === 1) {
    const request = parseGetKeyCached(keys[0]!);
    const outcome = typeof request === "string" ? null : takeAtOnce(request, session, ctx);
    if (outcome !== null) return session.outbox.pushAfter(outcome.commit, getReply(outcome, withCas), GET_FAILED);
  }
  const requests: GetRequest[] = [];
  for (const key of keys.length === 1 ? keys : new Set(keys)) {
    const request = parseGetKeyCached(key);
    if (typeof request === "string") return session.outbox.push(failure({ kind: "bad-request", reason: request }));
    requests.push(request);
  }
  // Many new queues (fanout children each create a file) are made over several turns first.
  const fresh = requests.length > MADE_AT_ONCE ? newQueueNames(requests, ctx) : [];
  if (fresh.length > MADE_AT_ONCE && fresh.length <= MAX_NEW_QUEUES) return createInTurns(fresh, session, ctx, () => serveGet(requests, session, ctx, withCas));
  serveGet(requests, session, ctx, withCas);
}

function serveGet(requests: readonly GetRequest[], session: Session, ctx: ServerContext, withCas: boolean): void {
  const plan = planReads(requests, session, ctx);
  if (isFailure(plan)) return session.outbox.push(failure(plan));
  replyInPlace(session.outbox, (reply) => runReads(plan, session, ctx, (outcome) => reply(getReply(outcome, withCas), outcome.commit, GET_FAILED)));
}

function getReply(outcome: ReadOutcome<GetRequest>, withCas: boolean): ReplyPiece[] {
  if (outcome.refusal !== null) return [serverError(outcome.refusal)];
  const pieces: ReplyPiece[] = [];
  for (const hit of outcome.hits) appendValue(pieces, hit.request.key, hit.item, withCas);
  pieces.push(END);
  for (const handover of outcome.handovers) pieces.push(handover);
  return pieces;
}
