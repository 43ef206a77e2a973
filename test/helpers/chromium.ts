/**
 * Headless Chromium for the browser test of the dashboard and its docs screenshot: Debian's
 * `chromium` package (apt-get installed when missing, as root on a clean machine; nothing is
 * assumed present), driven by playwright-core (which never downloads a browser of its own).
 *
 * Invariants: the browser gets a fresh profile and flags that keep it off the network but for
 * the pages it is sent to (no background requests, updates or sync: this machine's network is
 * closed and they would fail noisily); `watchPage` records every console error and uncaught page
 * error, so a test can fail on any.
 */
import { spawnSync } from "node:child_process";
import { chromium, type Browser, type Page } from "playwright-core";
import { ensureDebianPackages } from "./debian.ts";

const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox", // run as root in CI
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Installs Debian's chromium if it is missing (about a minute on a clean machine). Throws if that fails. */
export function ensureChromium(): void {
  ensureDebianPackages(["chromium"], () => spawnSync(CHROMIUM, ["--version"], { stdio: "ignore" }).status === 0);
}

/** Starts headless Chromium, installing it first if needed. */
export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** Every console error and uncaught exception of `page`, as text, from now on. */
export function watchPage(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  return errors;
}
