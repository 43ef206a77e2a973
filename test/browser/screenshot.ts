/**
 * Takes the dashboard screenshot in the docs (`npm run docs:screenshot`, writes
 * docs/dashboard.png): a server from source on loopback (admin_port 0), a few queues kept busy
 * over TCP for KESTREL_SCREENSHOT_SECONDS (120 by default) so the charts have a history, then
 * headless Chromium opens the dashboard at 1440 x 1000, selects the queue `jobs` and saves the
 * page. Not part of `npm test`: it installs Chromium when missing and runs for two minutes.
 *
 * The queues: `jobs` fills faster than it drains, then drains (its fanout child `jobs+audit` only
 * fills); `emails` gets bursts; `thumbnails` is read with
 * reliable reads (an open item); `reports` holds a backlog mostly on disk (read-behind, with a
 * small max_memory_size); `idle` holds one item; `alerts` is empty, with a client waiting on it.
 */
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { launchChromium, watchPage } from "../helpers/chromium.ts";
import { cleanUpServers, ServerProcess } from "../helpers/server.ts";

const SECONDS = Number(process.env.KESTREL_SCREENSHOT_SECONDS ?? 120);
const OUTPUT = join(import.meta.dir, "..", "..", "docs", "dashboard.png");
const TICK_MS = 100;

const CONFIG = `
admin_port = 0
[queues.reports]
max_memory_size = "256KiB"
`;

/** Runs `step(tick)` every TICK_MS until `until` has passed (performance.now() ms). */
async function every(until: number, step: (tick: number) => Promise<void>): Promise<void> {
  for (let tick = 0; performance.now() < until; tick++) {
    const next = performance.now() + TICK_MS;
    await step(tick);
    await Bun.sleep(Math.max(0, next - performance.now()));
  }
}

async function repeat(times: number, action: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < times; i++) await action();
}

/** The load described in the header, until `until`. */
async function keepBusy(server: ServerProcess, until: number): Promise<TestClient[]> {
  const clients = await Promise.all(Array.from({ length: 6 }, () => server.client()));
  const [producer, jobsReader, emailsReader, thumbnailsReader, reportsReader, waiter] = clients as [TestClient, TestClient, TestClient, TestClient, TestClient, TestClient];
  await producer.call("get jobs+audit/peek"); // makes the fanout child
  await producer.set("idle", "one item");
  const report = "r".repeat(2048);
  await repeat(3000, () => producer.set("reports", report));
  const half = performance.now() + (until - performance.now()) / 2;
  void waiter.send("get alerts/t=600000\r\n");
  await Promise.all([
    every(until, async (tick) => {
      await repeat(performance.now() < half ? 6 : 2, () => producer.set("jobs", `job ${tick}`));
      if (tick % 100 === 0) await repeat(150, () => producer.set("emails", `mail ${tick}`));
      await repeat(2, () => producer.set("thumbnails", `image ${tick}`));
    }),
    every(until, () => repeat(performance.now() < half ? 3 : 6, () => jobsReader.get("jobs"))),
    every(until, (tick) => (tick % 2 === 0 ? emailsReader.get("emails").then(() => {}) : Promise.resolve())),
    every(until, () => thumbnailsReader.get("thumbnails/close/open").then(() => {})),
    every(until, (tick) => (tick % 5 === 0 ? reportsReader.get("reports").then(() => {}) : Promise.resolve())),
  ]);
  return clients;
}

const server = await ServerProcess.start({ config: CONFIG });
try {
  const admin = `http://${await server.adminAddress()}`;
  const browser = await launchChromium();
  const busy = keepBusy(server, performance.now() + SECONDS * 1000);
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = watchPage(page);
  await page.goto(admin);
  await page.click('#queue-table tr[data-queue="jobs"] td.name');
  const clients = await busy;
  await page.waitForFunction('Number(document.querySelector("#chart").dataset.samples) > 10');
  await page.screenshot({ path: OUTPUT });
  for (const client of clients) client.close();
  await browser.close();
  if (errors.length > 0) throw new Error(`the page logged errors:\n${errors.join("\n")}`);
  console.log(`wrote ${OUTPUT} after ${SECONDS} s of load`);
} finally {
  cleanUpServers();
}
