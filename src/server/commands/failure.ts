/**
 * Why a command did nothing, as a value every front end turns into its own reply: the request
 * was bad (`bad-request`: a queue name, an argument), the server can't do it now (`unavailable`:
 * its status, a journal that can't be written), or the connection's open reads on the queue
 * forbid it (`open-reads`: as many as it may hold, for an open; any, for a plain take).
 */
export interface Failure {
  readonly kind: "bad-request" | "unavailable" | "open-reads";
  /** One line, for a human; it may quote what the client sent. */
  readonly reason: string;
}

export function badRequest(reason: string): Failure {
  return { kind: "bad-request", reason };
}

export function unavailable(reason: string): Failure {
  return { kind: "unavailable", reason };
}

const KINDS: ReadonlySet<unknown> = new Set<Failure["kind"]>(["bad-request", "unavailable", "open-reads"]);

export function isFailure(value: unknown): value is Failure {
  return typeof value === "object" && value !== null && "kind" in value && KINDS.has(value.kind) && "reason" in value;
}
