import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { createGrpcClient, UnavailableError, type ServiceClient } from '../../lib/grpc/index.js';
import { createCallPolicy, type CallPolicy, type ResilienceMode } from '../../lib/resilience/index.js';
import { grpcClientObserver } from '../../lib/telemetry/index.js';

/** A feature set as the registry needs it: its identity and feature names in vector order. */
export interface FeatureSetInfo {
  readonly name: string;
  readonly version: number;
  /** Feature names in vector order; the model's input width is their number. */
  readonly features: readonly string[];
}

/** Options of {@link createFeatureSets}. */
export interface FeatureSetsOptions {
  /** host:port of the feature service (NEPSE_FEATURE_ADDR). */
  address: string;
  mode: ResilienceMode;
  /** Time for one lookup, retries included, in milliseconds. */
  timeoutMs: number;
}

/** The feature sets the feature service serves, asked for once per set and then remembered. */
export interface FeatureSets {
  /**
   * The named set, or undefined when the feature service does not serve it.
   * @throws UnavailableError when the feature service cannot answer.
   */
  get(ref: { name: string; version: number }): Promise<FeatureSetInfo | undefined>;
  close(): void;
}

const keyOf = (name: string, version: number) => `${name}_v${version}`;

/**
 * The feature service's ListFeatureSets behind a cockatiel policy (timeout, retries on
 * UNAVAILABLE, circuit breaker). A feature set never changes once published (a change is a new
 * version), so a set found once is kept for the life of the process: registration keeps working
 * for known sets while the feature service is down. A set not found is asked for again next time.
 */
export function createFeatureSets(options: FeatureSetsOptions): FeatureSets {
  const client: ServiceClient<typeof FeatureService> = createGrpcClient(FeatureService, options.address, {
    observer: grpcClientObserver(),
  });
  const policy: CallPolicy = createCallPolicy({ mode: options.mode, timeoutMs: options.timeoutMs, bulkheadLimit: 8, bulkheadQueue: 64 });
  const known = new Map<string, FeatureSetInfo>();

  const refresh = async () => {
    let pageToken = '';
    do {
      const page = await policy.execute((signal) =>
        client.listFeatureSets({ pageSize: 1000, pageToken }, { signal, timeoutMs: options.timeoutMs }),
      );
      for (const set of page.featureSets) {
        if (!set.ref) continue;
        known.set(keyOf(set.ref.name, set.ref.version), {
          name: set.ref.name,
          version: set.ref.version,
          features: set.features.map((f) => f.name),
        });
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  };

  return {
    async get(ref) {
      const key = keyOf(ref.name, ref.version);
      const cached = known.get(key);
      if (cached) return cached;
      try {
        await refresh();
      } catch (error) {
        throw new UnavailableError(
          `the feature service at ${options.address} cannot confirm feature set ${key}: ${(error as Error).message}`,
          1_000,
        );
      }
      return known.get(key);
    },
    close: () => client.close(),
  };
}
