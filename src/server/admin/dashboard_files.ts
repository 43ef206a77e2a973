/**
 * The dashboard's files, embedded: each is imported `with { type: "file" }`, so `bun build
 * --compile` puts it inside the executable and the page works with no network and no files
 * beside the binary; run from source, the same imports name the files in dashboard/.
 *
 * Invariants: only the files listed here are served, at fixed paths (nothing in a URL is ever
 * turned into a file path); every file in dashboard/ is listed (a test checks). The page is
 * served with a Content-Security-Policy that lets it load only its own scripts and styles and
 * talk only to this server, and forbids framing it (so no other site can trick a click on its
 * buttons).
 */
import actionsJs from "./dashboard/actions.js" with { type: "file" };
import appJs from "./dashboard/app.js" with { type: "file" };
import chartsJs from "./dashboard/charts.js" with { type: "file" };
import dashboardCss from "./dashboard/dashboard.css" with { type: "file" };
import formatJs from "./dashboard/format.js" with { type: "file" };
import indexHtml from "./dashboard/index.html" with { type: "file" };
import tableJs from "./dashboard/table.js" with { type: "file" };

const HTML = "text/html; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

/** URL path -> the embedded file and its content type. */
export const DASHBOARD_FILES: ReadonlyMap<string, { readonly file: string; readonly type: string }> = new Map([
  ["/", { file: indexHtml, type: HTML }],
  ["/dashboard/dashboard.css", { file: dashboardCss, type: CSS }],
  ["/dashboard/app.js", { file: appJs, type: JS }],
  ["/dashboard/actions.js", { file: actionsJs, type: JS }],
  ["/dashboard/charts.js", { file: chartsJs, type: JS }],
  ["/dashboard/format.js", { file: formatJs, type: JS }],
  ["/dashboard/table.js", { file: tableJs, type: JS }],
]);

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The file served at `path`, or null if none is. */
export function dashboardFile(path: string): Response | null {
  const entry = DASHBOARD_FILES.get(path);
  if (entry === undefined) return null;
  return new Response(Bun.file(entry.file), {
    headers: {
      "content-type": entry.type,
      // Revalidated each time: after an upgrade the page and its scripts are never a mix of versions.
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": CONTENT_SECURITY_POLICY,
    },
  });
}
