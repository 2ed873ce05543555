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

  // One commit runs while the next batch is received and validated; commits stay in order.
  let committing: Promise<void> = Promise.resolve();
  const commit = async () => {
    const batch = pending;
    pending = [];
    await committing;
    committing = commitBatch(deps, batch, batchId, source).then((outcome) => {
      total.newBars += outcome.newBars;
      total.changedBars += outcome.changedBars;
      total.unchangedBars += outcome.unchangedBars;
      for (const s of outcome.symbols) symbols.add(s);
    });
    // A failed commit must not go unobserved while the stream is still being read.
    committing.catch(() => {});
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
  await committing;

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
