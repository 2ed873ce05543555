/**
 * One symbol's computation as it crosses to a worker thread and back: the history packed into
 * typed arrays (a structured clone of thousands of bar objects would cost the main thread what the
 * computation saves it), and the result as the encoded rows to insert plus what the main thread
 * keeps (the state to resume from, the latest vector, the range for FeaturesComputed).
 */
import { RowBinaryWriter } from '../../lib/store/index.js';
import { InvalidHistoryError, type DailyBar, type FeatureRow, type FeatureSetDefinition } from './feature-sets/index.js';
import { encodeVectors, vectorBytes } from './vector-rows.js';

/** A history in columns; `dates` is every bar's `YYYY-MM-DD` day, ten characters each, run together. */
export interface PackedBars {
  length: number;
  dates: string;
  /** open, high, low, close, volume, turnover of bar t at [6t … 6t+5]; turnover 0 where the bar has none. */
  values: Float64Array;
  /** 1 where bar t has a turnover. */
  hasTurnover: Uint8Array;
}

/** What a worker computes: the vectors of `sets` (by name and version) from bar `from` of `bars` on. */
export interface VectorJob {
  id: number;
  symbol: string;
  sets: { name: string; version: number }[];
  bars: PackedBars;
  from: number;
  /** computed_at of the encoded rows, ms since the epoch. */
  computedAt: number;
}

/** One set's outcome of a job. */
export interface SetOutcome {
  /** Vectors computed. */
  count: number;
  firstDate: string;
  lastDate: string;
  latest: FeatureRow | undefined;
  state: unknown;
  /** The vectors as `features` rows in RowBinary. */
  encoded: Uint8Array[];
}

/** Why a job failed, in a form that crosses threads; see {@link failureError}. */
export type JobFailure =
  | { kind: 'invalid-history'; index: number; date: string; field: keyof DailyBar; reason: string }
  | { kind: 'error'; name: string; message: string };

/** A worker's answer to a job. */
export type JobResult = { id: number; sets: SetOutcome[] } | { id: number; failure: JobFailure };

/** The bars of a packed history, as the feature sets read them. */
export function unpackBars({ length, dates, values, hasTurnover }: PackedBars): DailyBar[] {
  const bars = new Array<DailyBar>(length);
  for (let t = 0; t < length; t++) {
    const at = 6 * t;
    bars[t] = {
      date: dates.slice(10 * t, 10 * t + 10),
      open: values[at],
      high: values[at + 1],
      low: values[at + 2],
      close: values[at + 3],
      volume: values[at + 4],
      turnover: hasTurnover[t] === 1 ? values[at + 5] : undefined,
    };
  }
  return bars;
}

/** Runs a job with these sets (the worker's own copies of the ones the job names). */
export function runJob(job: VectorJob, sets: readonly FeatureSetDefinition[]): JobResult {
  try {
    const history = unpackBars(job.bars);
    const computedAt = new Date(job.computedAt);
    const outcomes = sets.map((set): SetOutcome => {
      const { rows, state } = set.computeFrom(history, job.from);
      const writer = new RowBinaryWriter(16 + rows.length * vectorBytes(set.features.length));
      encodeVectors(writer, set, job.symbol, rows, computedAt);
      const last = rows.length > 0 ? rows[rows.length - 1] : undefined;
      return {
        count: rows.length,
        firstDate: rows[0]?.date ?? '',
        lastDate: last?.date ?? '',
        latest: last,
        state,
        encoded: writer.encoded([]).chunks,
      };
    });
    return { id: job.id, sets: outcomes };
  } catch (error) {
    if (error instanceof InvalidHistoryError) {
      const { index, date, field, reason } = error;
      return { id: job.id, failure: { kind: 'invalid-history', index, date, field, reason } };
    }
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    return { id: job.id, failure: { kind: 'error', name, message } };
  }
}

/** The error a failed job stands for, on the main thread: InvalidHistoryError as the sets throw it. */
export function failureError(failure: JobFailure): Error {
  if (failure.kind === 'invalid-history') return new InvalidHistoryError(failure.index, failure.date, failure.field, failure.reason);
  const error = new Error(failure.message);
  error.name = failure.name;
  return error;
}
