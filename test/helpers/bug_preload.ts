/**
 * Preloaded into a spawned server (`bun --preload`) by tests of the last-resort error handling:
 * stands in for a bug that escapes every handler. On SIGUSR1 it plants the bug named by
 * KESTREL_TEST_BUG: `thrown` throws from a timer, `rejected` leaves a rejected promise nobody
 * awaits, `admin` makes the next `Response.json` call (an admin HTTP reply: /health's) throw,
 * `reply` makes the next reply decided after its request ran (`Outbox.resolve`: a blocking get's,
 * once its wait ends) throw, in a command's later work, outside the request's execution. It
 * writes `test bug: armed` to stderr once its handler is in place and `test bug: planted` once the
 * bug is, and changes nothing else.
 */
import { Outbox } from "../../src/server/outbox.ts";

const bug = process.env.KESTREL_TEST_BUG;
if (bug !== "thrown" && bug !== "rejected" && bug !== "admin" && bug !== "reply") throw new Error(`bug_preload: KESTREL_TEST_BUG is ${bug}`);

function plant(): void {
  if (bug === "thrown") {
    setTimeout(() => {
      throw new Error("injected bug (thrown)");
    });
  } else if (bug === "rejected") {
    void Promise.reject(new Error("injected bug (rejected)"));
  } else if (bug === "reply") {
    const resolve = Outbox.prototype.resolve;
    Outbox.prototype.resolve = () => {
      Outbox.prototype.resolve = resolve;
      throw new Error("injected bug (reply)");
    };
  } else {
    const json = Response.json;
    Response.json = () => {
      Response.json = json;
      throw new Error("injected bug (admin)");
    };
  }
}

process.on("SIGUSR1", () => {
  plant();
  process.stderr.write("test bug: planted\n");
});
process.stderr.write("test bug: armed\n");
