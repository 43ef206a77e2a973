/**
 * Turning caught errors into the one-line messages the log and clients see.
 */

/** An error as one line: the message, prefixed by the errno code when the message lacks it. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = "code" in error && typeof error.code === "string" ? error.code : "";
  return code !== "" && !error.message.startsWith(code) ? `${code}: ${error.message}` : error.message;
}
