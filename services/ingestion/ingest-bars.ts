import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { IngestBarsResponseSchema, type IngestBarsRequest, type IngestBarsResponse } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { todayInNepal } from '../../lib/market/index.js';
import { type BarRecord, barProblem } from './bar.js';
import { commitBatch, type BatchOutcome, type CommitDeps } from './commit-batch.js';
import { streamBarConverter } from './convert.js';
import { MAX_REJECTED_REPORTED } from './import-csv.js';

/** Bars in one stream message at most (ingestion.proto). */
export const MAX_BARS_PER_MESSAGE = 10_000;

/** Valid bars gathered before they are committed as one batch; bounds memory on long streams. */
export const COMMIT_THRESHOLD = 50_000;

/** Batches being committed at once: one writing its bars while the one before publishes its events. */
const COMMITS_IN_FLIGHT = 2;

/**
 * IngestBars: validates every bar, keeps the valid ones and commits them in batches of up to
 * {@link COMMIT_THRESHOLD} while the stream goes on; the response reports what was stored and
 * which bars (by position in the stream) were refused and why.
 */
export async function ingestBars(deps: CommitDeps, requests: AsyncIterable<IngestBarsRequest>): Promise<IngestBarsResponse> {
  const batchId = randomUUID();
  const today = todayInNepal();
  const total: BatchOutcome = { newBars: 0, changedBars: 0, unchangedBars: 0, symbols: [] };
  const symbols = new Set<string>();
  const rejected: { index: bigint; symbol: string; field: string; reason: string }[] = [];
  let rejectedCount = 0;
  let received = 0;
  let source = 'bars';
  let pending: BarRecord[] = [];
  const convert = streamBarConverter();

  // Up to COMMITS_IN_FLIGHT commits run while the next batch is received and validated, so one
  // batch's events are published while the next one's bars are written. The commit gate keeps
  // their order wherever two batches share a symbol (a symbol cut at a batch boundary).
  const inFlight = new Set<Promise<void>>();
  let failed: { error: unknown } | undefined;
  const commit = async () => {
    const batch = pending;
    pending = [];
    while (inFlight.size >= COMMITS_IN_FLIGHT) await Promise.race(inFlight);
    if (failed) throw failed.error;
    const committing: Promise<void> = commitBatch(deps, batch, batchId, source).then(
      (outcome) => {
        total.newBars += outcome.newBars;
        total.changedBars += outcome.changedBars;
        total.unchangedBars += outcome.unchangedBars;
        for (const s of outcome.symbols) symbols.add(s);
        inFlight.delete(committing);
      },
      // Observed here so a failure is never unhandled while the stream is still being read; the
      // call fails with it at the next commit or at the end.
      (error: unknown) => {
        failed ??= { error };
        inFlight.delete(committing);
      },
    );
    inFlight.add(committing);
  };

  for await (const request of requests) {
    if (request.bars.length > MAX_BARS_PER_MESSAGE) {
      throw new InvalidArgumentError({
        field: 'bars',
        description: `at most ${MAX_BARS_PER_MESSAGE} bars per message, got ${request.bars.length}`,
      });
    }
    if (request.source) source = request.source.slice(0, 100);
    for (const wire of request.bars) {
      const index = received++;
      const { record: bar, validSymbol } = convert(wire);
      const problem =
        bar.date === ''
          ? { field: 'date' as const, reason: 'date is missing or not a real calendar day' }
          : barProblem(bar, today, validSymbol);
      if (problem) {
        rejectedCount++;
        if (rejected.length < MAX_REJECTED_REPORTED) {
          rejected.push({ index: BigInt(index), symbol: bar.symbol, field: `bars[${index}].${problem.field}`, reason: problem.reason });
        }
        continue;
      }
      pending.push(bar);
    }
    if (pending.length >= COMMIT_THRESHOLD) await commit();
  }
  if (pending.length > 0) await commit();
  await Promise.all(inFlight);
  if (failed) throw failed.error;

  return create(IngestBarsResponseSchema, {
    batchId,
    barsReceived: BigInt(received),
    barsAccepted: BigInt(received - rejectedCount),
    barsRejected: BigInt(rejectedCount),
    barsNew: BigInt(total.newBars),
    barsChanged: BigInt(total.changedBars),
    barsUnchanged: BigInt(total.unchangedBars),
    symbols: [...symbols].sort(),
    rejectedBars: rejected,
  });
}
