/**
 * A reply that may be decided later (a blocking read) keeps the place of its request in the
 * connection's reply order: `replyInPlace` hands `start` a function to reply with; if `start`
 * returns without having replied, a place is reserved in the outbox and filled when it does.
 * A reply made at once goes straight behind its commit, with no reserved place (the common case).
 */
import type { Commit } from "../../journal/commit.ts";
import type { Deferred, OnFailure, Outbox, ReplyPiece } from "../outbox.ts";

export type Reply = (pieces: ReplyPiece[], commit: Commit, onFailure: OnFailure) => void;

export function replyInPlace(outbox: Outbox, start: (reply: Reply) => void): void {
  let deferred: Deferred | null = null;
  let replied = false;
  start((pieces, commit, onFailure) => {
    replied = true;
    if (deferred === null) outbox.pushAfter(commit, pieces, onFailure);
    else outbox.resolve(deferred, pieces, commit, onFailure);
  });
  if (!replied) deferred = outbox.defer();
}
