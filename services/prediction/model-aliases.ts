/**
 * The registry aliases this instance serves (`champion`, `challenger`, …): per model name and
 * alias, the loaded version it points at. An alias holds its own ONNX Runtime session, apart from
 * the Production versions of the model cache, so a rollback or a swap there never releases a
 * session an alias still serves (and the other way round); aliases of one name that point at the
 * same version share one session.
 *
 * A move is one assignment on the event loop, as a promotion's swap is: a request sees the old
 * or the new target, and requests running on the old one finish on it (they hold leases) before
 * it is released.
 */
import { Counter, Gauge } from 'prom-client';
import { metric, type Logger } from '../../lib/telemetry/index.js';
import { acquireModel, retireModel, type LoadedModel } from './inference-session.js';
import type { ModelLease } from './model-cache.js';

/** The registry pattern of an alias (registry.proto, SetAliasRequest). */
export const ALIAS_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/** The alias whose target shadows the served version of its name (prediction.proto). */
export const SHADOW_ALIAS = 'challenger';

/** Called after an alias of `name` moved; `model` is undefined when it was removed. */
export type AliasChangeListener = (name: string, alias: string, model: LoadedModel | undefined) => void;

function aliasMetrics() {
  return {
    info: metric(
      'nepse_prediction_alias_info',
      () =>
        new Gauge({
          name: 'nepse_prediction_alias_info',
          help: 'The version each served alias points at on this instance, value 1.',
          labelNames: ['model', 'alias', 'version'],
        }),
    ),
    moves: metric(
      'nepse_prediction_alias_moves_total',
      () =>
        new Counter({
          name: 'nepse_prediction_alias_moves_total',
          help: 'Alias moves served here, by model name and alias.',
          labelNames: ['model', 'alias'],
        }),
    ),
  };
}

const key = (name: string, alias: string) => `${name}\u0000${alias}`;

/** The aliases of this instance; see the file comment. */
export class ModelAliases {
  private readonly targets = new Map<string, LoadedModel>();
  private readonly listeners = new Set<AliasChangeListener>();
  private readonly metrics = aliasMetrics();

  /** @param releaseGraceMs how long a replaced session stays usable after it is retired, in ms. */
  constructor(
    private readonly logger?: Logger,
    private readonly releaseGraceMs = 2_000,
  ) {}

  /** The version `alias` of `name` points at here, if loaded. */
  get(name: string, alias: string): LoadedModel | undefined {
    return this.targets.get(key(name, alias));
  }

  /** A loaded copy of `name`/`version` held by some alias, to reuse instead of loading again. */
  find(name: string, version: number): LoadedModel | undefined {
    for (const model of this.targets.values()) if (model.name === name && model.version === version) return model;
    return undefined;
  }

  /** Leases the target of an alias for use across awaits; undefined when it is not loaded. */
  acquire(name: string, alias: string): ModelLease | undefined {
    const model = this.get(name, alias);
    return model && { model, release: acquireModel(model) };
  }

  /** Every served alias with its version, sorted (logs, tests). */
  list(): Array<{ name: string; alias: string; version: number }> {
    return [...this.targets]
      .map(([k, m]) => ({ name: m.name, alias: k.slice(k.indexOf('\u0000') + 1), version: m.version }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.alias.localeCompare(b.alias));
  }

  /** Atomically points `alias` at `model` (undefined removes it); the old target is released once no alias holds it. */
  set(alias: string, name: string, model: LoadedModel | undefined): void {
    const k = key(name, alias);
    const before = this.targets.get(k);
    if (before === model) return;
    if (model) this.targets.set(k, model);
    else this.targets.delete(k);
    if (before) this.metrics.info.remove({ model: name, alias, version: String(before.version) });
    if (model) this.metrics.info.set({ model: name, alias, version: String(model.version) }, 1);
    this.metrics.moves.inc({ model: name, alias });
    if (before && ![...this.targets.values()].includes(before)) void retireModel(before, this.releaseGraceMs);
    this.logger?.info(
      { model: name, alias, version: model?.version, previous: before?.version },
      model ? 'alias now serving' : 'alias no longer served',
    );
    for (const listener of this.listeners) {
      try {
        listener(name, alias, model);
      } catch (error) {
        this.logger?.error({ err: error, model: name, alias }, 'alias change listener failed');
      }
    }
  }

  /** Subscribes to alias moves; returns the unsubscribe function. */
  onChange(listener: AliasChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Releases every session, once its in-flight inferences finish. */
  async close(): Promise<void> {
    const models = new Set(this.targets.values());
    this.targets.clear();
    this.metrics.info.reset();
    await Promise.all([...models].map((m) => retireModel(m, 0)));
  }
}
