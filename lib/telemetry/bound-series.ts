/**
 * Label children that do not hash their labels on every call. prom-client's `labels(...)` child
 * keeps the labels object, and each `inc()` or `observe()` then validates it, turns it into the
 * series key string and looks that up: a few microseconds, which on a path served thousands of
 * times a second (Predict, the gRPC server's own metrics) is a visible share of a call's CPU.
 *
 * A bound series works out its key once, from the series prom-client itself created, and then adds
 * to that series' values in place, exactly as prom-client's own inc/observe do. What a scrape shows
 * is unchanged: same series, same labels, same values. Whenever the series is not there (first use,
 * or after a reset of the metric) or the metric does not look as expected (another prom-client), it
 * goes through the public child, so it is never wrong, only at worst as slow as before.
 */
import type { Counter, Histogram, LabelValues } from 'prom-client';

/** A counter series that adds one. */
export interface BoundCounter {
  inc(): void;
}

/** A histogram series that records one value. */
export interface BoundHistogram {
  observe(value: number): void;
}

/** The series table of a prom-client metric (prom-client 15: `hashMap`, keyed by the label string). */
interface SeriesTable<Entry> {
  hashMap?: Record<string, Entry | undefined>;
}

interface CounterEntry {
  value: number;
  labels: Record<string, string | number>;
}

interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** The key under which `table` holds the series of exactly `labels`, if it holds one. */
function keyOf(table: Record<string, { labels: Record<string, string | number> } | undefined>, labels: Record<string, unknown>) {
  const names = Object.keys(labels);
  for (const [key, entry] of Object.entries(table)) {
    const held = entry?.labels;
    if (!held || Object.keys(held).length !== names.length) continue;
    if (names.every((name) => String(held[name]) === String(labels[name]))) return key;
  }
  return undefined;
}

/** The series of `counter` with `labels`, counted without hashing the labels per call. */
export function boundCounter<T extends string>(counter: Counter<T>, labels: LabelValues<T>): BoundCounter {
  const child = counter.labels(labels);
  const metric = counter as unknown as SeriesTable<CounterEntry>;
  let key: string | undefined;
  return {
    inc() {
      const entry = key === undefined ? undefined : metric.hashMap?.[key];
      if (entry !== undefined && typeof entry.value === 'number') {
        entry.value += 1;
        return;
      }
      child.inc();
      if (metric.hashMap && typeof metric.hashMap === 'object') key = keyOf(metric.hashMap, labels);
    },
  };
}

/** The series of `histogram` with `labels`, observed without hashing the labels per call. */
export function boundHistogram<T extends string>(histogram: Histogram<T>, labels: LabelValues<T>): BoundHistogram {
  const child = histogram.labels(labels);
  const metric = histogram as unknown as SeriesTable<HistogramEntry> & { upperBounds?: number[] };
  const bounds = Array.isArray(metric.upperBounds) ? metric.upperBounds : undefined;
  // Bucket counts are keyed by the bound as a property name; a fractional number turned into one
  // on every call costs more than all the rest of an observation.
  const names = bounds?.map(String) ?? [];
  let key: string | undefined;
  return {
    observe(value) {
      const entry = key === undefined || !bounds || !Number.isFinite(value) ? undefined : metric.hashMap?.[key];
      if (entry !== undefined && typeof entry.sum === 'number' && entry.bucketValues) {
        entry.sum += value;
        entry.count += 1;
        // The smallest bucket bound at or above the value; above them all only +Inf counts it, which
        // prom-client derives from the count.
        const buckets = entry.bucketValues as Record<string, number | undefined>;
        for (let i = 0; i < bounds!.length; i++) {
          if (value <= bounds![i]) {
            const count = buckets[names[i]];
            if (count !== undefined) buckets[names[i]] = count + 1;
            break;
          }
        }
        return;
      }
      child.observe(value);
      if (metric.hashMap && typeof metric.hashMap === 'object') key = keyOf(metric.hashMap, labels);
    },
  };
}
