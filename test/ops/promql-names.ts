/**
 * Metric names referenced by a PromQL expression (or a Grafana query), found by a small
 * tokenizer: strings, label matchers, ranges and dashboard variables are dropped; identifiers
 * followed by `(` are functions or aggregations; the label lists after `by`, `without`, `on`,
 * `ignoring`, `group_left` and `group_right` are label names; keywords are skipped. What is left
 * are metric names. Enough for the expressions in ops/, not a PromQL parser.
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
  'start',
  'end',
]);
/** Aggregation operators: `sum by (x) (…)` puts the label list between the name and its `(`. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** The metric names in `expr`, in order of first appearance. */
export function metricNamesOf(expr: string): string[] {
  const text = expr
    // Grafana's label_values(metric, label): only the first argument names a metric.
    .replace(/label_values\(\s*([^,)]*?)\s*,\s*[a-zA-Z_]\w*\s*\)/g, ' $1 ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  const names: string[] = [];
  const tokens = [...text.matchAll(/\d[\w.]*|[a-zA-Z_:][\w:]*|\S/g)].map((m) => m[0]);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (!/^[a-zA-Z_:]/.test(token)) continue;
    const next = tokens[i + 1];
    if (LABEL_LIST_KEYWORDS.has(token.toLowerCase())) {
      if (next === '(') {
        const close = tokens.indexOf(')', i + 1);
        i = close < 0 ? tokens.length : close;
      }
      continue;
    }
    if (KEYWORDS.has(token.toLowerCase()) || AGGREGATIONS.has(token)) continue;
    if (next === '(') continue; // a function or an aggregation
    if (!names.includes(token)) names.push(token);
  }
  return names;
}
