import { create } from '@bufbuild/protobuf';
import {
  GetTrainingSetResponseSchema,
  type GetTrainingSetRequest,
  type GetTrainingSetResponse,
  type TrainingRow,
} from '../../gen/nepse/feature/v1/feature_pb.js';
import { InvalidArgumentError, type CallContext } from '../../lib/grpc/index.js';
import { rangeBounds, requireSymbol, toProtoDate } from '../../lib/market/index.js';
import { resolveFeatureSet } from './feature-set-ref.js';
import { featureSetMessage } from './list-feature-sets.js';
import type { FeatureStore } from './store.js';

/** Rows per stream message (feature.proto) and symbols per request at most. */
export const ROWS_PER_MESSAGE = 1000;
export const MAX_TRAINING_SYMBOLS = 1000;

/**
 * GetTrainingSet: labelled rows ordered by symbol and date. Features of day t come from bars up to
 * t only (the feature sets are causal); the label is the symbol's next trading day's log return
 * and close, so rows whose next day is not known yet are left out.
 */
export async function* getTrainingSet(
  store: FeatureStore,
  request: GetTrainingSetRequest,
  context: CallContext,
): AsyncIterable<GetTrainingSetResponse> {
  if (request.symbols.length > MAX_TRAINING_SYMBOLS) {
    throw new InvalidArgumentError({
      field: 'symbols',
      description: `at most ${MAX_TRAINING_SYMBOLS} symbols, got ${request.symbols.length}`,
    });
  }
  const requested = request.symbols.map((raw, i) => requireSymbol(raw, `symbols[${i}]`));
  const { from, to } = rangeBounds(request.range, 'range');
  const set = resolveFeatureSet(request.featureSet);
  const symbols = requested.length > 0 ? [...new Set(requested)].sort() : await store.symbols(set);

  let pending: TrainingRow[] = [];
  let first = true;
  const message = () => {
    const response = create(GetTrainingSetResponseSchema, { featureSet: first ? featureSetMessage(set) : undefined, rows: pending });
    first = false;
    pending = [];
    return response;
  };
  for (const symbol of symbols) {
    if (context.signal.aborted) return;
    for (const row of await store.labelledRows(set, symbol, from, to)) {
      pending.push({
        $typeName: 'nepse.feature.v1.TrainingRow',
        symbol,
        date: toProtoDate(row.date),
        features: row.values,
        close: row.close,
        labelDate: toProtoDate(row.nextDate),
        labelReturn: Math.log(row.nextClose / row.close),
        labelClose: row.nextClose,
      });
      if (pending.length === ROWS_PER_MESSAGE) yield message();
    }
  }
  if (pending.length > 0 || first) yield message();
}
