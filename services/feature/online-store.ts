import { GetFeaturesResponseSchema, type FeatureVector, type GetFeaturesResponse } from '../../gen/nepse/feature/v1/feature_pb.js';
import { encodeOnce, type Encoded } from '../../lib/grpc/index.js';

/** A latest vector, with its GetFeatures answer encoded once. */
interface Held {
  vector: FeatureVector;
  response: Encoded<GetFeaturesResponse>;
}

/**
 * The online store: the latest vector of every symbol per feature set, in memory, kept as ready
 * wire messages so that GetFeatures for "latest" never touches ClickHouse and does no work.
 */
export class OnlineStore {
  private readonly bySet = new Map<string, Map<string, Held>>();

  private static key(set: { name: string; version: number }): string {
    return `${set.name}@${set.version}`;
  }

  /** Keeps `vector` unless a vector of a later day is already held. */
  put(set: { name: string; version: number }, vector: FeatureVector): void {
    const key = OnlineStore.key(set);
    let vectors = this.bySet.get(key);
    if (!vectors) this.bySet.set(key, (vectors = new Map()));
    const held = vectors.get(vector.symbol)?.vector;
    if (held?.date && vector.date && dayNumber(held.date) > dayNumber(vector.date)) return;
    const response = encodeOnce(GetFeaturesResponseSchema, { $typeName: 'nepse.feature.v1.GetFeaturesResponse', vector });
    vectors.set(vector.symbol, { vector, response });
  }

  /** The latest vector of a symbol, if any. */
  get(set: { name: string; version: number }, symbol: string): FeatureVector | undefined {
    return this.bySet.get(OnlineStore.key(set))?.get(symbol)?.vector;
  }

  /** The GetFeatures answer for a symbol's latest vector, already encoded, if any. */
  response(set: { name: string; version: number }, symbol: string): Encoded<GetFeaturesResponse> | undefined {
    return this.bySet.get(OnlineStore.key(set))?.get(symbol)?.response;
  }

  /** Number of symbols held for a set. */
  size(set: { name: string; version: number }): number {
    return this.bySet.get(OnlineStore.key(set))?.size ?? 0;
  }
}

const dayNumber = (d: { year: number; month: number; day: number }) => d.year * 10_000 + d.month * 100 + d.day;
