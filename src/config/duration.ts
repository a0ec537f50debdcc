const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `250ms`, `90s`, `15m`, `1h` (or a bare number in `bareUnit`) into milliseconds.
 * Returns null for anything else, so the caller can name the variable in its error.
 */
export function parseDuration(value: string, bareUnit: 'ms' | 's' | 'm'): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? bareUnit).toLowerCase();
  const ms = n * UNITS_MS[unit]!;
  return Number.isFinite(ms) ? Math.round(ms) : null;
}
