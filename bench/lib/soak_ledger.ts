/**
 * The soak test's ledger: what the clients were told about every copy of every item they sent,
 * and the verdict drawn from it at the end.
 *
 * A copy is one item on one track. A set to a fanout parent puts a copy on the parent's track and
 * one on each child's; an item that expires and is moved (move_expired_to) stays on its track, so
 * the queues of a track are read as one. An epoch is one lifetime of the server process.
 *
 * The rules, from the protocol's promises and nothing else:
 * - acknowledged: a STORED was read. Only acknowledged copies can be lost. A set answered
 *   otherwise (NOT_STORED, SERVER_ERROR) was not stored: delivering it is a problem ("refused
 *   yet delivered"; a set in the journal write that failed waits for the retry and is then
 *   STORED). One not answered at all (cut off by a restart) may or may not have been stored.
 * - consumed: a plain get's reply carrying it arrived, or the reply to the `close` after its
 *   `open` arrived (confirmed). A consumed copy must never be served again ("came back").
 * - an open copy comes back when its connection ends unconfirmed or it is aborted; one whose close
 *   was in flight or refused may come back or not ("maybe consumed").
 * - a plain get cut off by the server's death may have taken the head of its queue with it: each
 *   such get excuses one missing copy of its track that was queued in that epoch or before.
 * - lost: acknowledged, never consumed, not maybe-consumed, not left at the end, not excused.
 * - invented: a delivered payload that is damaged or that nobody sent on that track.
 */
import { readPayload } from "./soak_items.ts";

export type DeliveryKind = "plain" | "open" | "drain";

/** Where a copy is, as far as the clients know. */
type Place = "queued" | "open" | "maybe" | "consumed";

interface Copy {
  set: "sent" | "acked" | "refused";
  place: Place;
  /** The epoch since which it has been queued (sent or given back). */
  since: number;
  deliveries: number;
  /** How and in which epoch it was last consumed, for the report of one that came back. */
  consumedBy: string;
}

export interface TrackRow {
  readonly track: string;
  acked: number;
  refused: number;
  /** Sets with no reply: the server died first. */
  unanswered: number;
  /** Copies delivered at least once. */
  delivered: number;
  /** Deliveries after the first: after an abort, an unconfirmed open or an uncertain close. */
  redelivered: number;
  confirmed: number;
  /** By plain gets during the run. */
  consumed: number;
  /** Delivered by the final drain. */
  remaining: number;
  maybeConsumed: number;
  /** Missing, but a plain get cut off by a restart may have taken them. */
  excused: number;
  lost: number;
  cameBack: number;
  /** Delivered while open on a live connection. */
  servedTwice: number;
  /** Refused (NOT_STORED, SERVER_ERROR) and delivered all the same. */
  refusedYetDelivered: number;
}

export interface Verdict {
  readonly rows: readonly TrackRow[];
  readonly invented: number;
  /** Each broken promise, with examples; empty when all is well. */
  readonly problems: readonly string[];
}

const EXAMPLES = 5;

export class Ledger {
  /** The server lifetime now running; the soak advances it at every start. */
  epoch = 0;
  private readonly copies = new Map<string, Copy>();
  private readonly rows = new Map<string, TrackRow>();
  /** Per track, per epoch: plain gets cut off when that epoch's server died. */
  private readonly cutOff = new Map<string, number[]>();
  private invented = 0;
  private readonly examples = new Map<string, string[]>();

  /**
   * `copiesOf[queue]`: the tracks a set to `queue` puts a copy on; `trackOf[queue]`: the track of
   * an item delivered from `queue`.
   */
  constructor(
    private readonly copiesOf: Readonly<Record<string, readonly string[]>>,
    private readonly trackOf: Readonly<Record<string, string>>,
  ) {
    for (const track of new Set(Object.values(trackOf))) this.rows.set(track, emptyRow(track));
  }

  /** A set of item `id` to `queue` is about to be sent. */
  sent(queue: string, id: string): void {
    for (const track of this.tracks(queue)) {
      this.copies.set(`${track} ${id}`, { set: "sent", place: "queued", since: this.epoch, deliveries: 0, consumedBy: "" });
    }
  }

  /** The set's reply arrived: STORED, or a refusal. */
  answered(queue: string, id: string, stored: boolean): void {
    for (const track of this.tracks(queue)) {
      const copy = this.copies.get(`${track} ${id}`)!;
      copy.set = stored ? "acked" : "refused";
      const row = this.row(track);
      if (stored) row.acked++;
      else row.refused++;
      if (!stored && copy.deliveries > 0) this.refusedYetDelivered(row, track, id);
    }
  }

  /**
   * A reply carrying `data` from `queue` arrived. Returns the item's id, or null for a payload that
   * was never sent there (counted as invented).
   */
  delivered(queue: string, data: Uint8Array, kind: DeliveryKind): string | null {
    const track = this.trackOf[queue];
    const id = readPayload(data);
    const copy = track === undefined || id === null ? undefined : this.copies.get(`${track} ${id}`);
    if (track === undefined || id === null || copy === undefined) {
      this.invented++;
      this.example("invented", `${queue}: ${id ?? `a damaged payload of ${data.length} bytes`}`);
      return null;
    }
    const row = this.row(track);
    if (copy.deliveries++ === 0) row.delivered++;
    else row.redelivered++;
    if (copy.set === "refused" && copy.deliveries === 1) this.refusedYetDelivered(row, track, id);
    if (copy.place === "consumed") {
      row.cameBack++;
      this.example(`came back on ${track}`, `${id}: ${copy.consumedBy}, then served by ${served(kind)} in epoch ${this.epoch}`);
    }
    if (copy.place === "open") {
      row.servedTwice++;
      this.example(`served twice on ${track}`, `${id}: open on one connection, then served by ${served(kind)} in epoch ${this.epoch}`);
    }
    if (kind === "open") {
      copy.place = "open";
      return id;
    }
    if (kind === "drain") row.remaining++;
    else row.consumed++;
    copy.place = "consumed";
    copy.consumedBy = `consumed by a ${kind === "drain" ? "final drain" : "plain"} get in epoch ${this.epoch}`;
    return id;
  }

  /** The reply to the close of an open copy arrived: consumed. */
  confirmed(queue: string, id: string): void {
    const copy = this.openCopy(queue, id);
    if (copy === undefined) return;
    copy.place = "consumed";
    copy.consumedBy = `confirmed in epoch ${this.epoch}`;
    this.row(this.trackOf[queue]!).confirmed++;
  }

  /** An open copy is being aborted: it goes back to its queue, by the abort or by its connection's end. */
  givenBack(queue: string, id: string): void {
    const copy = this.openCopy(queue, id);
    if (copy === undefined) return;
    copy.place = "queued";
    copy.since = this.epoch;
  }

  /** The close of an open copy was cut off or refused: it may come back or not. */
  unsure(queue: string, id: string): void {
    const copy = this.openCopy(queue, id);
    if (copy !== undefined) copy.place = "maybe";
  }

  /** A plain get on `queue` was waiting for its reply when the server died (or the client gave up on it). */
  plainGetCutOff(queue: string): void {
    const track = this.trackOf[queue]!;
    const perEpoch = this.cutOff.get(track) ?? [];
    perEpoch[this.epoch] = (perEpoch[this.epoch] ?? 0) + 1;
    this.cutOff.set(track, perEpoch);
  }

  /** Acknowledged copies so far, on `track` or on all. */
  acknowledged(track?: string): number {
    let total = 0;
    for (const row of this.rows.values()) if (track === undefined || row.track === track) total += row.acked;
    return total;
  }

  private refusedYetDelivered(row: TrackRow, track: string, id: string): void {
    row.refusedYetDelivered++;
    this.example(`refused yet delivered on ${track}`, `${id}: its set was refused, and it was served in epoch ${this.epoch}`);
  }

  /** Call once, after the final drain. */
  verdict(): Verdict {
    const missing = new Map<string, string[][]>();
    for (const [name, copy] of this.copies) {
      const track = name.slice(0, name.indexOf(" "));
      const row = this.row(track);
      if (copy.set === "sent") row.unanswered++;
      if (copy.set !== "acked") continue;
      if (copy.place === "maybe") row.maybeConsumed++;
      if (copy.place !== "queued" && copy.place !== "open") continue;
      const perEpoch = missing.get(track) ?? [];
      (perEpoch[copy.since] ??= []).push(name);
      missing.set(track, perEpoch);
    }
    const problems: string[] = [];
    const say = (count: number, what: string, detail = "") => {
      if (count > 0) problems.push(`${count} ${what}${detail}, e.g. ${this.examples.get(what)!.join("; ")}`);
    };
    for (const row of this.rows.values()) {
      const lostSince = this.excuseOrLose(row, missing.get(row.track) ?? []);
      const epochs = [...lostSince].map(([epoch, n]) => `${epoch}: ${n}`).join(", ");
      say(row.lost, `lost on ${row.track}`, ` (by the epoch since which they were queued: ${epochs})`);
      say(row.cameBack, `came back on ${row.track}`);
      say(row.servedTwice, `served twice on ${row.track}`);
      say(row.refusedYetDelivered, `refused yet delivered on ${row.track}`);
    }
    say(this.invented, "invented");
    return { rows: [...this.rows.values()], invented: this.invented, problems };
  }

  /**
   * Matches missing copies (by the epoch since which they were queued) with the plain gets cut off
   * at the end of that epoch or a later one; what no cut-off get can explain is lost. Returns the
   * lost copies per epoch.
   */
  private excuseOrLose(row: TrackRow, missingPerEpoch: string[][]): Map<number, number> {
    const cutOff = this.cutOff.get(row.track) ?? [];
    const lostSince = new Map<number, number>();
    let spare = 0;
    for (let epoch = Math.max(missingPerEpoch.length, cutOff.length) - 1; epoch >= 0; epoch--) {
      spare += cutOff[epoch] ?? 0;
      const missing = missingPerEpoch[epoch] ?? [];
      const excused = Math.min(spare, missing.length);
      spare -= excused;
      row.excused += excused;
      row.lost += missing.length - excused;
      if (missing.length > excused) lostSince.set(epoch, missing.length - excused);
      for (const name of missing.slice(excused)) {
        this.example(`lost on ${row.track}`, `${name.slice(row.track.length + 1)} (delivered ${this.copies.get(name)!.deliveries} times)`);
      }
    }
    return new Map([...lostSince].reverse());
  }

  private tracks(queue: string): readonly string[] {
    const tracks = this.copiesOf[queue];
    if (tracks === undefined) throw new Error(`the soak sends nothing to queue '${queue}'`);
    return tracks;
  }

  private row(track: string): TrackRow {
    return this.rows.get(track)!;
  }

  private openCopy(queue: string, id: string): Copy | undefined {
    const copy = this.copies.get(`${this.trackOf[queue]} ${id}`);
    return copy?.place === "open" ? copy : undefined;
  }

  private example(kind: string, text: string): void {
    const list = this.examples.get(kind) ?? [];
    if (list.length < EXAMPLES) list.push(text);
    this.examples.set(kind, list);
  }
}

const served = (kind: DeliveryKind): string => (kind === "drain" ? "the final drain" : kind === "open" ? "an open" : "a plain get");

function emptyRow(track: string): TrackRow {
  return {
    track,
    acked: 0,
    refused: 0,
    unanswered: 0,
    delivered: 0,
    redelivered: 0,
    confirmed: 0,
    consumed: 0,
    remaining: 0,
    maybeConsumed: 0,
    excused: 0,
    lost: 0,
    cameBack: 0,
    servedTwice: 0,
    refusedYetDelivered: 0,
  };
}
