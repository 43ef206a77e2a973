/**
 * Preloaded into a spawned server (`bun --preload`) by tests of the last-resort error handling:
 * stands in for a bug that escapes every handler. On SIGUSR1 it throws from a timer; on SIGUSR2
 * it leaves a rejected promise nobody awaits. It writes `test bug: armed` to stderr once the
 * handlers are in place, and changes nothing else.
 */
process.on("SIGUSR1", () => {
  setTimeout(() => {
    throw new Error("injected bug (thrown)");
  });
});
process.on("SIGUSR2", () => {
  void Promise.reject(new Error("injected bug (rejected)"));
});
process.stderr.write("test bug: armed\n");
