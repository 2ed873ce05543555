import type { FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';

/**
 * The online store: the latest vector of every symbol per feature set, in memory, kept as ready
 * wire messages so that GetFeatures for "latest" never touches ClickHouse and does no work.
 */
export class OnlineStore {
  private readonly bySet = new Map<string, Map<string, FeatureVector>>();

  private static key(set: { name: string; version: number }): string {
    return `${set.name}@${set.version}`;
  }

  /** Keeps `vector` unless a vector of a later day is already held. */
  put(set: { name: string; version: number }, vector: FeatureVector): void {
    const key = OnlineStore.key(set);
    let vectors = this.bySet.get(key);
    if (!vectors) this.bySet.set(key, (vectors = new Map()));
    const held = vectors.get(vector.symbol);
    if (held?.date && vector.date && dayNumber(held.date) > dayNumber(vector.date)) return;
    vectors.set(vector.symbol, vector);
  }

  /** The latest vector of a symbol, if any. */
  get(set: { name: string; version: number }, symbol: string): FeatureVector | undefined {
    return this.bySet.get(OnlineStore.key(set))?.get(symbol);
  }

  /** Number of symbols held for a set. */
  size(set: { name: string; version: number }): number {
    return this.bySet.get(OnlineStore.key(set))?.size ?? 0;
  }
}

const dayNumber = (d: { year: number; month: number; day: number }) => d.year * 10_000 + d.month * 100 + d.day;
