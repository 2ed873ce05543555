/**
 * A parser of the Prometheus text exposition format (version 0.0.4), strict enough to tell a
 * malformed /metrics answer from a good one: `# HELP` and `# TYPE` lines, samples with escaped
 * label values, `+Inf`/`-Inf`/`NaN`, optional timestamps, and histogram and summary families
 * (`_bucket`, `_sum`, `_count` samples grouped under their family, buckets checked for shape).
 * Tests read scrapes with it; nothing in the request path uses it.
 */

/** Metric types of the text format. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** One sample line. */
export interface Sample {
  /** Sample name as written, e.g. `grpc_server_handling_seconds_bucket`. */
  name: string;
  labels: Record<string, string>;
  /** The value; `Infinity`, `-Infinity` or `NaN` when written so. */
  value: number;
  /** Optional timestamp, in ms since the epoch. */
  timestampMs?: number;
}

/** A metric family: its `# TYPE`, `# HELP` and samples. */
export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

/** A parsed exposition. */
export interface Exposition {
  /** Families by name, in order of first appearance. */
  families: Map<string, MetricFamily>;
  /** Every sample, in order. */
  samples: Sample[];
}

/** The text is not valid exposition format; `line` is 1-based, 0 for a fault of a whole family. */
export class ExpositionParseError extends Error {
  override readonly name = 'ExpositionParseError';
  constructor(
    readonly line: number,
    reason: string,
    readonly text: string,
  ) {
    super(line > 0 ? `line ${line}: ${reason}: ${text.length > 120 ? `${text.slice(0, 120)}…` : text}` : reason);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Sample-name suffixes that belong to a family of another name, by the family's type. */
const SUFFIXES: Record<MetricType, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
  counter: [],
  gauge: [],
  untyped: [],
};

/**
 * The family name a metric name in a query or sample refers to: `_bucket`, `_sum` and `_count`
 * stripped (how a dashboard's `x_bucket` is matched against a scrape's family `x`).
 */
export function familyNameOf(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, '');
}

/**
 * Parses a numeric sample value as Prometheus does (Go's ParseFloat): `+Inf`, `-Inf` and `NaN`
 * in any letter case, since prom-client writes NaN as `Nan`.
 */
export function parseValue(text: string): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  // Number('') is 0 and Number('0x10') is 16: neither is a Prometheus float.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`not a number: ${text}`);
  return Number(text);
}

/** Undoes `\\`, `\n` (and in label values `\"`) escapes. */
function unescape(text: string, quotes: boolean): string {
  return text.replace(/\\(.)/g, (whole, c: string) => (c === 'n' ? '\n' : c === '\\' ? '\\' : quotes && c === '"' ? '"' : whole));
}

/** Reads `{a="x",b="y"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function readLabels(line: string, start: number, fail: (reason: string) => never): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const skipSpace = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  while (true) {
    skipSpace();
    if (line[i] === '}') return { labels, end: i + 1 };
    const nameStart = i;
    while (i < line.length && /[a-zA-Z0-9_]/.test(line[i])) i++;
    const name = line.slice(nameStart, i);
    if (!LABEL_NAME.test(name)) fail(`bad label name "${name}"`);
    skipSpace();
    if (line[i] !== '=') fail(`expected = after label ${name}`);
    i++;
    skipSpace();
    if (line[i] !== '"') fail(`expected " to open the value of label ${name}`);
    i++;
    const valueStart = i;
    while (i < line.length && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
    if (i >= line.length) fail(`unterminated value of label ${name}`);
    if (name in labels) fail(`label ${name} repeated`);
    labels[name] = unescape(line.slice(valueStart, i), true);
    i++;
    skipSpace();
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail(`expected , or } after label ${name}`);
  }
}

/**
 * Parses an exposition.
 * @throws ExpositionParseError on the first malformed line, a repeated `# TYPE`, a sample that
 *   follows another family's samples after its own (families must be contiguous), or a histogram
 *   whose series lack the `+Inf` bucket, have decreasing buckets, or a count that differs from it.
 */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricFamily>();
  const samples: Sample[] = [];
  /** Families already left behind: a sample of one of them later means the text interleaves families. */
  const closed = new Set<string>();
  const typed = new Set<string>();
  let currentFamily: string | undefined;
  const lines = text.split('\n');

  const familyFor = (name: string, type?: MetricType): MetricFamily => {
    let family = families.get(name);
    if (!family) families.set(name, (family = { name, type: type ?? 'untyped', samples: [] }));
    return family;
  };
  const enter = (name: string, fail: (reason: string) => never) => {
    if (currentFamily === name) return;
    if (closed.has(name)) fail(`family ${name} continues after another family began`);
    if (currentFamily !== undefined) closed.add(currentFamily);
    currentFamily = name;
  };

  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const fail = (reason: string): never => {
      throw new ExpositionParseError(index + 1, reason, line);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!meta) return; // any other comment
      const [, keyword, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name)) fail(`bad metric name "${name}"`);
      enter(name, fail);
      const family = familyFor(name);
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail(`second HELP for ${name}`);
        family.help = unescape(rest, false);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) fail(`unknown type "${rest.trim()}"`);
        if (family.samples.length > 0) fail(`TYPE for ${name} after its samples`);
        if (typed.has(name)) fail(`second TYPE for ${name}`);
        typed.add(name);
        family.type = type;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) fail('expected a metric name');
    const name = nameMatch![0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = readLabels(line, i, fail));
    const rest = line.slice(i);
    if (rest !== '' && !/^[ \t]/.test(rest)) fail('expected whitespace before the value');
    const fields = rest.trim().split(/[ \t]+/);
    if (fields.length < 1 || fields[0] === '' || fields.length > 2) fail('expected a value and an optional timestamp');
    let value = 0;
    try {
      value = parseValue(fields[0]);
    } catch {
      fail(`bad value "${fields[0]}"`);
    }
    const sample: Sample = { name, labels, value };
    if (fields.length === 2) {
      if (!/^-?\d+$/.test(fields[1])) fail(`bad timestamp "${fields[1]}"`);
      sample.timestampMs = Number(fields[1]);
    }
    const family = owningFamily(families, name, currentFamily) ?? familyFor(name);
    enter(family.name, fail);
    if (family.type === 'histogram' && name === `${family.name}_bucket` && labels.le === undefined) fail('histogram bucket without le');
    if (family.type === 'summary' && name === family.name && labels.quantile === undefined) fail('summary sample without quantile');
    family.samples.push(sample);
    samples.push(sample);
  });

  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return { families, samples };
}

/** The typed family `name` belongs to: itself, or a histogram/summary whose suffix it carries. */
function owningFamily(families: Map<string, MetricFamily>, name: string, current: string | undefined): MetricFamily | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  // Prefer the family being read: `x_count` right after `# TYPE x histogram` is x's.
  const candidates = current === undefined ? [] : [current];
  candidates.push(familyNameOf(name));
  for (const candidate of candidates) {
    const family = families.get(candidate);
    if (family && SUFFIXES[family.type].some((suffix) => name === family.name + suffix)) return family;
  }
  return undefined;
}

/** Checks each series of a histogram: buckets non-decreasing by `le`, a `+Inf` bucket, `_count` equal to it. */
function checkHistogram(family: MetricFamily): void {
  const series = new Map<string, { buckets: Array<{ le: number; value: number }>; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  for (const sample of family.samples) {
    const key = keyOf(sample.labels);
    let entry = series.get(key);
    if (!entry) series.set(key, (entry = { buckets: [] }));
    if (sample.name === `${family.name}_bucket`) {
      let le = NaN;
      try {
        le = parseValue(sample.labels.le);
      } catch {
        throw new ExpositionParseError(0, `histogram ${family.name}: bad le "${sample.labels.le}"`, family.name);
      }
      entry.buckets.push({ le, value: sample.value });
    } else if (sample.name === `${family.name}_count`) entry.count = sample.value;
  }
  for (const [key, entry] of series) {
    const where = `histogram ${family.name}${key}`;
    const sorted = [...entry.buckets].sort((a, b) => a.le - b.le);
    const inf = sorted.at(-1);
    if (!inf || inf.le !== Infinity) throw new ExpositionParseError(0, `${where} has no +Inf bucket`, family.name);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].value < sorted[i - 1].value)
        throw new ExpositionParseError(0, `${where}: bucket le=${sorted[i].le} below le=${sorted[i - 1].le}`, family.name);
    }
    if (entry.count !== undefined && entry.count !== inf.value)
      throw new ExpositionParseError(0, `${where}: _count ${entry.count} differs from the +Inf bucket ${inf.value}`, family.name);
  }
}
