/**
 * The dashboard in a real browser: `npm run test:browser` (.ci/run runs it after `npm test`; it
 * is not part of `npm test` because it needs Debian's chromium, which it apt-get installs when
 * missing, a minute or more on a clean machine). A server from source with an admin_token;
 * items are put and taken over TCP while headless Chromium shows the page; every wait polls the
 * page's DOM (page.waitForFunction), none sleeps. Any console error or uncaught error in the page
 * fails the test, but for the 401s the test provokes on purpose, which it expects by name.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import type { TestClient } from "../helpers/client.ts";
import { ensureChromium, launchChromium, watchPage } from "../helpers/chromium.ts";
import { ServerProcess } from "../helpers/server.ts";

const TOKEN = "9d41c6b2e07f4a3d8c5b1e6f2a0d7c93";
/** What Chromium logs for an action the server refused with 401. */
const REFUSED_401 = "console: Failed to load resource: the server responded with a status of 401 (Unauthorized)";

// Before any test, so the install is not counted against a test's timeout.
ensureChromium();

let server: ServerProcess;
let admin: string;
let c: TestClient;
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  server = await ServerProcess.start({ config: `admin_port = 0\nadmin_token = "${TOKEN}"\n` });
  admin = `http://${await server.adminAddress()}`;
  c = await server.client();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  errors = watchPage(page);
});

afterEach(() => {
  // Every test leaves the page without an error it did not expect.
  expect(errors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  c?.close();
  await server?.stop();
  server?.removeData();
});

/** The page's globals as the checks below use them (this project's TypeScript has no DOM types). */
interface InPage {
  readonly document: {
    querySelector(selector: string): { readonly textContent: string | null; getAttribute(name: string): string | null } | null;
    querySelectorAll(selector: string): { readonly length: number };
  };
}

/**
 * Waits until what `read` reads of `selector` in the page ("text", "count" of matches, or an
 * attribute) is `expected` ("="), at least it (">=", as numbers) or starts with it ("starts").
 * Checked in the page on every animation frame; the check is a function, not a string, because
 * the page's Content-Security-Policy forbids evaluating strings (and must stay in force here).
 */
async function until(selector: string, read: string, op: "=" | ">=" | "starts", expected: string | number): Promise<void> {
  await page.waitForFunction(
    ([selector, read, op, expected]) => {
      const document = (globalThis as unknown as InPage).document;
      const value = read === "count" ? String(document.querySelectorAll(selector).length) : read === "text" ? document.querySelector(selector)?.textContent : document.querySelector(selector)?.getAttribute(read);
      if (value === null || value === undefined) return false;
      if (op === ">=") return Number(value) >= Number(expected);
      return op === "=" ? value === String(expected) : value.startsWith(String(expected));
    },
    [selector, read, op, expected] as const,
    { timeout: 30_000 },
  );
}

const cell = (queue: string, column: string) => `#queue-table tr[data-queue="${queue}"] td[data-col="${column}"]`;
/** The queues shown in the table, in order. */
const rows = () => page.$$eval("#queue-table tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-queue")));

/** Takes the refusals the test provoked on purpose out of the page's errors. */
function expectRefusals(count: number): void {
  const refused = errors.filter((error) => error === REFUSED_401);
  expect(refused).toHaveLength(count);
  errors.splice(0, errors.length, ...errors.filter((error) => error !== REFUSED_401));
}

describe("the dashboard in Chromium", () => {
  test("shows the server, then follows puts and takes over TCP in the table, the sparkline and the chart", async () => {
    await page.goto(admin);
    // The chart of all queues has a first sample: rates are measured from it on.
    await until("#chart", "data-samples", ">=", 1);
    for (let i = 0; i < 30; i++) await c.set("jobs", `job ${i}`);
    for (let i = 0; i < 5; i++) await c.set("mail", `mail ${i}`);
    await until(cell("jobs", "items"), "text", "=", "30");
    await until(cell("mail", "items"), "text", "=", "5");
    const stats = (await (await fetch(`${admin}/stats.json`)).json()) as { server: Record<string, string> };
    expect(await page.textContent("#version")).toBe(stats.server.version!);
    expect(await page.textContent("#server-status")).toBe("up");
    await until("#connections", "text", "=", "1");
    await until("#sync", "text", "=", "never");

    // The queue's chart: selected by clicking its name (and kept in the URL).
    await page.click('#queue-table tr[data-queue="jobs"] td.name');
    await until("#chart", "data-queue", "=", "jobs");
    await until("#chart", "data-last-items", "=", "30");
    await until("#chart", "data-peak-in", ">=", 1);
    expect(new URL(page.url()).hash).toBe("#queue=jobs");
    const depthBefore = await page.getAttribute("#chart path.depth", "d");

    for (let i = 0; i < 12; i++) expect(await c.get("jobs")).toBe(`job ${i}`);
    await until(cell("jobs", "items"), "text", "=", "18");
    await until("#chart", "data-last-items", "=", "18");
    await until("#chart", "data-peak-out", ">=", 1);
    expect(await page.getAttribute("#chart path.depth", "d")).not.toBe(depthBefore);
    await until('#queue-table tr[data-queue="jobs"] td.spark svg', "data-samples", ">=", 2);
    expect(await page.getAttribute('#queue-table tr[data-queue="jobs"] td.spark svg path.rate-out', "d")).toMatch(/^M/);
  });

  test("sorts by a column and filters by name", async () => {
    expect(await rows()).toEqual(["jobs", "mail"]); // by items, most first
    await page.click('th[data-sort="items"] button');
    await until('th[data-sort="items"]', "aria-sort", "=", "ascending");
    expect(await rows()).toEqual(["mail", "jobs"]);
    await page.fill("#filter", "ai");
    await until("#queue-table tbody tr", "count", "=", 1);
    expect(await rows()).toEqual(["mail"]);
    await page.fill("#filter", "");
    await until("#queue-table tbody tr", "count", "=", 2);
  });

  test("changes the status after a confirmation, only with the admin token", async () => {
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.fill("#token", "");
    await page.selectOption("#status-select", "readonly");
    await page.click("#status-apply");
    await until("#message", "text", "starts", "this server wants its admin token");
    expect(await (await fetch(`${admin}/status`)).text()).toBe("up\n");
    expectRefusals(1);

    await page.fill("#token", TOKEN);
    await page.selectOption("#status-select", "readonly");
    await page.click("#status-apply");
    await until("#message", "text", "=", "status changed to readonly");
    await until("#server-status", "text", "=", "readonly");
    expect(await (await fetch(`${admin}/status`)).text()).toBe("readonly\n");
    expect(await c.set("jobs", "refused")).toStartWith("SERVER_ERROR server is readonly");
    expect(dialogs).toHaveLength(2);
    expect(dialogs[1]).toStartWith("Change the server status from up to readonly?");
    page.removeAllListeners("dialog");

    // Cancelled: nothing is sent.
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.selectOption("#status-select", "quiescent");
    await page.click("#status-apply");
    expect(await (await fetch(`${admin}/status`)).text()).toBe("readonly\n");
  });

  test("flushes and deletes a queue after a confirmation, only with the admin token", async () => {
    page.on("dialog", (dialog) => void dialog.accept());
    await page.fill("#token", "");
    await page.click('#queue-table tr[data-queue="mail"] button[data-action="flush"]');
    await until("#message", "text", "starts", "this server wants its admin token");
    expectRefusals(1);
    expect((await c.stats()).get("queue_mail_items")).toBe("5");

    await page.fill("#token", TOKEN);
    await page.click('#queue-table tr[data-queue="mail"] button[data-action="flush"]');
    await until(cell("mail", "items"), "text", "=", "0");
    expect(await page.textContent("#message")).toBe("flushed queue 'mail'");
    await page.click('#queue-table tr[data-queue="mail"] button[data-action="delete"]');
    await until('#queue-table tr[data-queue="mail"]', "count", "=", 0);
    expect((await c.stats()).get("queue_mail_items")).toBeUndefined();
    expect(await rows()).toEqual(["jobs"]);
    page.removeAllListeners("dialog");
  });
});
