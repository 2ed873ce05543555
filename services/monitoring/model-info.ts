import type { Evaluation } from '../../gen/nepse/market/v1/market_pb.js';
import { Stage, type FeatureDistribution, type RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { detached, grpc, type ServiceClient } from '../../lib/grpc/index.js';
import type { CallPolicy } from '../../lib/resilience/index.js';
import type { Logger } from '../../lib/telemetry/index.js';

/** What monitoring needs of a registered version. */
export interface ModelInfo {
  /** The walk-forward backtest's pooled figures; undefined when the registration carried none. */
  backtest: Evaluation | undefined;
  /** Training distribution of each feature, in feature set order; empty when none was stored. */
  distributions: FeatureDistribution[];
}

/** What a lookup found: the version, no such version, or no answer (registry down, breaker open). */
export type ModelLookup = { found: ModelInfo } | { missing: true } | { unavailable: string };

/** How long "the registry has no such version" is believed, in ms (a registration may still be on its way). */
const MISSING_TTL_MS = 60_000;

/**
 * Backtest figures and training distributions of model versions, from the registry's GetModel
 * behind a resilience policy. Versions are immutable, so a found version is cached for good; a
 * failure is not cached, and the caller reports without the figures instead of failing.
 */
export class ModelInfoSource {
  private readonly found = new Map<string, ModelInfo>();
  private readonly missing = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<ModelLookup>>();

  constructor(
    private readonly registry: ServiceClient<typeof RegistryService>,
    private readonly policy: CallPolicy,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** The version's backtest and distributions; never throws. */
  lookup(name: string, version: number): Promise<ModelLookup> {
    const key = `${name}@${version}`;
    const cached = this.found.get(key);
    if (cached) return Promise.resolve({ found: cached });
    const missingAt = this.missing.get(key);
    if (missingAt !== undefined && Date.now() - missingAt < MISSING_TTL_MS) return Promise.resolve({ missing: true });
    let pending = this.inflight.get(key);
    if (!pending) {
      // Shared with later callers (the evaluator among them): not bound to this caller's deadline.
      pending = detached(() => this.fetch(name, version, key)).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * The name's Production version at the registry: 0 when it has none, undefined when the registry
   * did not answer. Asked afresh each time (stages change); never throws.
   */
  async productionVersion(name: string): Promise<number | undefined> {
    try {
      const response = await this.policy.execute((signal) =>
        this.registry.getModel({ name, selector: { case: 'stage', value: Stage.PRODUCTION } }, { signal, timeoutMs: this.timeoutMs }),
      );
      return response.modelVersion?.version ?? 0;
    } catch (error) {
      if ((error as { code?: number }).code === grpc.status.NOT_FOUND) return 0;
      this.logger.debug(
        { model: name, err: (error as Error).message },
        'registry did not say the Production version; going by the latest prediction',
      );
      return undefined;
    }
  }

  private async fetch(name: string, version: number, key: string): Promise<ModelLookup> {
    try {
      const response = await this.policy.execute((signal) =>
        this.registry.getModel({ name, selector: { case: 'version', value: version } }, { signal, timeoutMs: this.timeoutMs }),
      );
      const model = response.modelVersion;
      const info: ModelInfo = { backtest: model?.backtest?.overall, distributions: model?.featureDistributions ?? [] };
      this.found.set(key, info);
      this.missing.delete(key);
      return { found: info };
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === grpc.status.NOT_FOUND) {
        this.missing.set(key, Date.now());
        return { missing: true };
      }
      const reason = (error as Error).message ?? String(error);
      this.logger.warn({ model: name, version, err: reason }, 'registry lookup failed; reporting without backtest figures');
      return { unavailable: reason };
    }
  }
}
