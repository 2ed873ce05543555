import type { QueryParams } from './types.js';

// `{name:Type}`; ClickHouse types never contain braces, so the type runs to the first `}`.
const PLACEHOLDER_RE = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/g;

/** Placeholder name → declared ClickHouse type, e.g. `{from:Date}` → `from: 'Date'`. */
export function placeholderTypes(sql: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of sql.matchAll(PLACEHOLDER_RE)) types.set(m[1]!, m[2]!);
  return types;
}

type DateFormatter = (d: Date) => string;

// The engine parses a bound value strictly as the declared type: `{d:Date}` rejects
// '2024-01-02 00:00:00' and `{t:DateTime}` rejects a fraction. The two drivers
// also disagree on how to send a JS Date (chdb: 'YYYY-MM-DD HH:MM:SS', the HTTP
// client: a unix timestamp), so Dates are formatted here, per declared type.
const dateOnly: DateFormatter = (d) => d.toISOString().slice(0, 10);
const dateTime: DateFormatter = (d) => d.toISOString().slice(0, 19).replace('T', ' ');
const dateTime64: DateFormatter = (d) => d.toISOString().slice(0, 23).replace('T', ' ');

function formatterFor(type: string | undefined): DateFormatter {
  // The innermost date type decides: Nullable(Date), Array(DateTime64(3)), …
  const m = type === undefined ? null : /DateTime64|DateTime|Date32|Date/.exec(type);
  switch (m?.[0]) {
    case 'Date':
    case 'Date32':
      return dateOnly;
    case 'DateTime':
      return dateTime;
    default:
      // DateTime64, or a Date bound to a String placeholder: keep the milliseconds.
      return dateTime64;
  }
}

function normalizeValue(value: unknown, format: () => DateFormatter): unknown {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('cannot bind an invalid Date');
    return format()(value);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    // chdb refuses NaN/±Infinity while the HTTP client sends nan/+inf/-inf: send the
    // text ClickHouse parses as a float on both.
    return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  }
  if (Array.isArray(value)) return value.map((v) => normalizeValue(v, format));
  return value;
}

/**
 * Makes params bind identically on both drivers: JS Dates become the text their
 * placeholder's type parses (UTC, which is the session timezone), non-finite
 * numbers become `nan`/`inf`/`-inf`. Everything else is passed through for the
 * driver to format (strings escaped, bigint exact, arrays as literals).
 */
export function normalizeParams(sql: string, params: QueryParams | undefined): Record<string, unknown> | undefined {
  if (params === undefined) return undefined;
  const keys = Object.keys(params);
  if (keys.length === 0) return undefined;
  // Placeholder types are only needed (and parsed, once) when a Date is bound.
  let types: Map<string, string> | undefined;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    out[key] = normalizeValue(params[key], () => formatterFor((types ??= placeholderTypes(sql)).get(key)));
  }
  return out;
}
