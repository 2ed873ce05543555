/** How the CLI writes figures, enum values, times, tables and failures. */
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Baseline, type Evaluation, type ForecastMetrics } from '../gen/nepse/market/v1/market_pb.js';
import type { StatusDetails } from '../lib/grpc/index.js';

/** A fraction as a signed percentage, `+0.45 %`. */
export const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} %`;

/** A proto enum value as a lower-case word, `PRODUCTION` → `production`, `LOADING_DATA` → `loading data`. */
export function enumWord(values: Record<number, string>, value: number): string {
  return (values[value] ?? String(value)).toLowerCase().replaceAll('_', ' ');
}

/** A timestamp to the second in UTC, `2024-03-20 09:15:02Z`; empty when unset. */
export function when(timestamp: Timestamp | undefined): string {
  return timestamp ? `${timestampDate(timestamp).toISOString().slice(0, 19).replace('T', ' ')}Z` : '';
}

/** Rows under a header, each column as wide as its widest cell (the last one left ragged). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n');
}

/**
 * A row of fixed-width columns (the last one left ragged), for rows printed one at a time as a
 * stream delivers them, where no widest cell is known in advance.
 */
export function fixedRow(widths: readonly number[], cells: readonly string[]): string {
  return cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
}

/** How a baseline is named in tables. */
export const baselineName = (baseline: Baseline): string =>
  baseline === Baseline.NO_CHANGE ? 'no change' : baseline === Baseline.SMA5_DRIFT ? 'SMA-5 drift' : enumWord(Baseline, baseline);

/** The NO_CHANGE baseline's figures of an evaluation, if it has them. */
export const noChange = (evaluation: Evaluation | undefined): ForecastMetrics | undefined =>
  evaluation?.baselines.find((b) => b.baseline === Baseline.NO_CHANGE)?.metrics;

/** An evaluation as a table: the model's figures, then each baseline's on the same predictions. */
export function evaluationTable(evaluation: Evaluation | undefined): string {
  // NO_CHANGE predicts a return of 0, so it never calls a direction: its accuracy would only count flat sessions.
  const row = (label: string, m?: ForecastMetrics, callsDirection = true) => [
    `  ${label}`,
    String(m?.count ?? 0n),
    (m?.maeReturn ?? 0).toFixed(5),
    (m?.rmseReturn ?? 0).toFixed(5),
    (m?.maeClose ?? 0).toFixed(2),
    `${((m?.mapeClose ?? 0) * 100).toFixed(2)} %`,
    callsDirection ? `${((m?.directionalAccuracy ?? 0) * 100).toFixed(1)} %` : 'n/a',
  ];
  return table(
    ['', 'SCORED', 'MAE RETURN', 'RMSE RETURN', 'MAE CLOSE', 'MAPE', 'DIRECTION'],
    [
      row('model', evaluation?.model),
      ...(evaluation?.baselines ?? []).map((b) => row(baselineName(b.baseline), b.metrics, b.baseline !== Baseline.NO_CHANGE)),
    ],
  );
}

/** How the model's MAE of the return compares with NO_CHANGE's, `3.7 % better`; empty without figures. */
export function versusNoChange(evaluation: Evaluation | undefined): string {
  const model = evaluation?.model;
  const baseline = noChange(evaluation)?.maeReturn;
  if (!model?.count || !baseline) return '';
  return `${(Math.abs(1 - model.maeReturn / baseline) * 100).toFixed(1)} % ${model.maeReturn <= baseline ? 'better' : 'worse'}`;
}

/** The model's MAE of the return beside NO_CHANGE's, `0.01234 vs 0.01250 (1.3 % better)`; empty without figures. */
export function maeVersusNoChange(evaluation: Evaluation | undefined): string {
  const versus = versusNoChange(evaluation);
  return versus ? `${evaluation!.model!.maeReturn.toFixed(5)} vs ${noChange(evaluation)!.maeReturn.toFixed(5)} (${versus})` : '';
}

/**
 * A failure as lines: its message, then each field violation as `  field: description` (unless the
 * message is already that violation, as it is when a service names a single one).
 */
export function failureLines(details: Pick<StatusDetails, 'message' | 'fieldViolations'>): string[] {
  const violations = details.fieldViolations.map((v) => `${v.field}: ${v.description}`);
  return violations.length === 1 && violations[0] === details.message
    ? [details.message]
    : [details.message, ...violations.map((v) => `  ${v}`)];
}
