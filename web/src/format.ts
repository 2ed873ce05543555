/** Formatting of prices, returns, dates and times for the panels. */
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { Date as TradingDate } from '../../gen/nepse/market/v1/market_pb.js';

/** ISO day of a contract date; '' when unset. */
export function dayOf(date: TradingDate | undefined): string {
  if (!date || !date.year) return '';
  return `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/** A price in rupees with two decimals and thousands separators. */
export function price(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A fraction as a signed percentage, e.g. 0.0123 → "+1.23 %". */
export function signedPct(fraction: number, digits = 2): string {
  if (!Number.isFinite(fraction)) return '–';
  return `${fraction >= 0 ? '+' : '−'}${Math.abs(fraction * 100).toFixed(digits)} %`;
}

/** A fraction as a percentage, e.g. 0.5312 → "53.1 %". */
export function pct(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)} %` : '–';
}

/** A log-return error in basis points, e.g. 0.0123 → "123.0 bp". */
export function bp(value: number): string {
  return Number.isFinite(value) ? `${(value * 10_000).toFixed(1)} bp` : '–';
}

/** Milliseconds since the epoch of a protobuf timestamp; 0 when unset. */
export function msOf(ts: Timestamp | undefined): number {
  return ts ? Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6) : 0;
}

/** Local time of day of a timestamp, e.g. "14:05:09". */
export function clock(ms: number): string {
  return ms ? new Date(ms).toLocaleTimeString('en-GB', { hour12: false }) : '–';
}

/** "3 s ago", "5 min ago", … */
export function ago(ms: number, now = Date.now()): string {
  if (!ms) return '–';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Creates an element with a class and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Text made safe to place in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
