import { create } from '@bufbuild/protobuf';
import {
  BatchGetFeaturesResponseSchema,
  type BatchGetFeaturesRequest,
  type BatchGetFeaturesResponse,
  type FeatureVector,
  type GetFeaturesRequest,
  type GetFeaturesResponse,
} from '../../gen/nepse/feature/v1/feature_pb.js';
import { InvalidArgumentError, NotFoundError, toStatus, type Encoded } from '../../lib/grpc/index.js';
import { fromProtoDate, requireSymbol, todayInNepal } from '../../lib/market/index.js';
import type { Date as TradingDate } from '../../gen/nepse/market/v1/market_pb.js';
import { resolveFeatureSet } from './feature-set-ref.js';
import type { FeatureSetDefinition } from './feature-sets/index.js';
import type { OnlineStore } from './online-store.js';
import type { FeatureStore } from './store.js';
import { toFeatureVector } from './vectors.js';

/** Symbols one BatchGetFeatures may ask for. */
export const MAX_BATCH_SYMBOLS = 1000;

/** Where vectors are read from: memory for the latest, the offline store for a given day. */
export interface VectorSources {
  online: OnlineStore;
  store: FeatureStore;
}

async function vectorOf(
  sources: VectorSources,
  set: FeatureSetDefinition,
  symbol: string,
  asOf: string | undefined,
): Promise<FeatureVector> {
  if (asOf === undefined) {
    const latest = sources.online.get(set, symbol);
    if (!latest) throw new NotFoundError('feature vector', symbol, `no ${set.name}_v${set.version} vector for symbol ${symbol}`);
    return latest;
  }
  const stored = await sources.store.vectorOn(set, symbol, asOf);
  if (!stored)
    throw new NotFoundError('feature vector', `${symbol}@${asOf}`, `no ${set.name}_v${set.version} vector for ${symbol} on ${asOf}`);
  return toFeatureVector(set, symbol, stored, stored.computedAt);
}

/** The earliest day the offline store holds (ClickHouse's Date): an earlier as_of would be read as this one. */
const FIRST_STORABLE_DAY = '1970-01-01';

/**
 * The ISO day of a request's as_of, undefined when unset. A day before the store's first or after
 * today in Nepal can never have a vector: INVALID_ARGUMENT naming `as_of`, not NOT_FOUND.
 */
function asOfDay(asOf: TradingDate | undefined, now = Date.now()): string | undefined {
  if (!asOf) return undefined;
  const day = fromProtoDate(asOf, 'as_of');
  if (day < FIRST_STORABLE_DAY)
    throw new InvalidArgumentError({
      field: 'as_of',
      description: `${day} is before ${FIRST_STORABLE_DAY}, the earliest day features are kept for`,
    });
  const today = todayInNepal(now);
  if (day > today)
    throw new InvalidArgumentError({
      field: 'as_of',
      description: `${day} is after today in Nepal (${today}): no session has closed that day yet`,
    });
  return day;
}

/** GetFeatures: the latest vector from memory (encoded once), or a given day's from the offline store. */
export async function getFeatures(
  sources: VectorSources,
  request: GetFeaturesRequest,
): Promise<GetFeaturesResponse | Encoded<GetFeaturesResponse>> {
  const symbol = requireSymbol(request.symbol);
  const asOf = asOfDay(request.asOf);
  const set = resolveFeatureSet(request.featureSet);
  const ready = asOf === undefined ? sources.online.response(set, symbol) : undefined;
  if (ready) return ready;
  return { $typeName: 'nepse.feature.v1.GetFeaturesResponse', vector: await vectorOf(sources, set, symbol, asOf) };
}

/** BatchGetFeatures: one result per requested symbol, in order; a missing symbol fails only its entry. */
export async function batchGetFeatures(sources: VectorSources, request: BatchGetFeaturesRequest): Promise<BatchGetFeaturesResponse> {
  if (request.symbols.length === 0) throw new InvalidArgumentError({ field: 'symbols', description: 'at least one symbol is required' });
  if (request.symbols.length > MAX_BATCH_SYMBOLS) {
    throw new InvalidArgumentError({
      field: 'symbols',
      description: `at most ${MAX_BATCH_SYMBOLS} symbols, got ${request.symbols.length}`,
    });
  }
  const symbols = request.symbols.map((raw, i) => requireSymbol(raw, `symbols[${i}]`));
  const asOf = asOfDay(request.asOf);
  const set = resolveFeatureSet(request.featureSet);
  const results = await Promise.all(
    symbols.map(async (symbol) => {
      try {
        return { symbol, outcome: { case: 'vector' as const, value: await vectorOf(sources, set, symbol, asOf) } };
      } catch (error) {
        return { symbol, outcome: { case: 'error' as const, value: toStatus(error) } };
      }
    }),
  );
  return create(BatchGetFeaturesResponseSchema, { results });
}
