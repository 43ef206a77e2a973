// How the dashboard writes numbers: counts with thousands separators, bytes in binary units,
// rates with a decimal below 10, durations in the two largest units that matter, clock times in
// the browser's time zone. Pure functions of their argument; a missing value is written "–".

const MISSING = "–";
const counts = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1234567 -> "1,234,567". */
export function formatCount(value) {
  return typeof value === "number" && Number.isFinite(value) ? counts.format(value) : MISSING;
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return MISSING;
  let unit = 0;
  let amount = value;
  while (amount >= 1024 && unit < BYTE_UNITS.length - 1) {
    amount /= 1024;
    unit++;
  }
  return `${unit === 0 || amount >= 100 ? Math.round(amount) : amount.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** Items per second: 0.25 -> "0.3", 12.5 -> "13", 12500 -> "12.5k". */
export function formatRate(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return MISSING;
  if (value === 0) return "0";
  if (value < 10) return value.toFixed(1);
  if (value < 10_000) return counts.format(value);
  return `${(value / 1000).toFixed(1)}k`;
}

/** Milliseconds as the two largest units: 950 -> "950 ms", 61000 -> "1 min 1 s", 90061000 -> "1 d 1 h". */
export function formatDuration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return MISSING;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const parts = [];
  let rest = Math.floor(ms / 1000);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
    const amount = Math.floor(rest / size);
    rest -= amount * size;
    if (amount > 0 || parts.length > 0) parts.push(`${amount} ${unit}`);
  }
  return parts
    .slice(0, 2)
    .filter((part, index) => index === 0 || !part.startsWith("0 "))
    .join(" ");
}

/** Unix ms -> "14:05:09" in the browser's time zone. */
export function formatClock(ms) {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}
