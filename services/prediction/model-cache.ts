/**
 * The models this instance serves: per name the Production version ("current") plus the last few
 * versions it replaced, each in its own ONNX Runtime session, swapped atomically.
 *
 * A swap is one assignment on the event loop, so every request sees either the old or the new
 * version, never a mix; requests already running on the old session finish on it (they hold
 * leases, see inference-session.ts) and the old session is released afterwards.
 */
import { Counter, Gauge } from 'prom-client';
import { metric, type Logger } from '../../lib/telemetry/index.js';
import { acquireModel, retireModel, type LoadedModel } from './inference-session.js';

export {
  infer,
  modelLeases,
  modelState,
  ModelOutputError,
  ModelReleasedError,
  type LoadedModel,
  type ModelState,
} from './inference-session.js';

/** Options of {@link ModelCache}. */
export interface ModelCacheOptions {
  /**
   * Earlier versions kept loaded per name after a swap, for requests pinned to a version and for
   * an instant switch back on rollback. Default 1; 0 releases a replaced version at once.
   */
  retainPrevious?: number;
  /** How long a replaced session stays usable after it is retired, in ms (see inference-session.ts). Default 2 000. */
  releaseGraceMs?: number;
  logger?: Logger;
}

/** A model held for use across awaits; `release()` gives it back (idempotent). */
export interface ModelLease {
  readonly model: LoadedModel;
  release(): void;
}

/** Called after the current version of `name` changed; `current` is undefined when none is served any more. */
export type ModelChangeListener = (name: string, current: LoadedModel | undefined) => void;

interface NameEntry {
  current: LoadedModel | undefined;
  /** Every loaded version of the name, current included. */
  versions: Map<number, LoadedModel>;
  /** Versions kept after being replaced, most recent first. */
  previous: number[];
}

/** The cache's metrics, registered once per process. */
function cacheMetrics() {
  return {
    // An info metric (value 1, the facts in labels) rather than a version-valued gauge: it joins
    // onto other series by `model` and `version` (e.g. the monitoring service's live MAE).
    info: metric(
      'nepse_prediction_model_info',
      () =>
        new Gauge({
          name: 'nepse_prediction_model_info',
          help: 'The model version this instance serves as current, one series per model name with value 1.',
          labelNames: ['model', 'version', 'stage'],
        }),
    ),
    swaps: metric(
      'nepse_prediction_model_swaps_total',
      () =>
        new Counter({
          name: 'nepse_prediction_model_swaps_total',
          help: 'Changes of the current version, by model name.',
          labelNames: ['model'],
        }),
    ),
    loaded: metric(
      'nepse_prediction_models_loaded',
      () =>
        new Gauge({ name: 'nepse_prediction_models_loaded', help: 'Model versions held in ONNX Runtime sessions (current and retained).' }),
    ),
  };
}

/** Labels of a current version's `nepse_prediction_model_info` series. */
const infoLabels = (model: LoadedModel) => ({ model: model.name, version: String(model.version), stage: 'production' });

/** The Production models of this instance; see the file comment. */
export class ModelCache {
  private readonly entries = new Map<string, NameEntry>();
  /** {@link servingNames}, worked out on first use after a change. */
  private serving: readonly string[] | undefined;
  private readonly listeners = new Set<ModelChangeListener>();
  private readonly retainPrevious: number;
  private readonly releaseGraceMs: number;
  private readonly metrics = cacheMetrics();
  private isReady = false;

  constructor(private readonly options: ModelCacheOptions = {}) {
    this.retainPrevious = options.retainPrevious ?? 1;
    this.releaseGraceMs = options.releaseGraceMs ?? 2_000;
    if (!Number.isInteger(this.retainPrevious) || this.retainPrevious < 0)
      throw new RangeError(`retainPrevious must be a non-negative integer, got ${this.retainPrevious}`);
    if (!(this.releaseGraceMs >= 0)) throw new RangeError(`releaseGraceMs must be ≥ 0, got ${this.releaseGraceMs}`);
  }

  /** True once the models in Production at start have been loaded (ServerReady, readiness probes). */
  get ready(): boolean {
    return this.isReady;
  }

  /** Marks the loading at start as finished. */
  markReady(): void {
    this.isReady = true;
  }

  /**
   * The Production version of a model name. There is no implicit default here: which name a
   * request that names none gets is the prediction service's rule (predict.ts, defaultModelName),
   * since guessing one (say, the first by name) would switch algorithm when another name is promoted.
   */
  current(name: string): LoadedModel | undefined {
    return this.entries.get(name)?.current;
  }

  /** Names that have a Production version loaded now, sorted; the same array until one changes (read on every Predict). */
  servingNames(): readonly string[] {
    this.serving ??= [...this.entries]
      .filter(([, entry]) => entry.current)
      .map(([name]) => name)
      .sort();
    return this.serving;
  }

  /** A specific version if loaded (the current one or one retained after a swap). */
  get(name: string, version: number): LoadedModel | undefined {
    return this.entries.get(name)?.versions.get(version);
  }

  /** Every loaded version, by name, newest version first. */
  list(): LoadedModel[] {
    return [...this.entries.keys()]
      .sort()
      .flatMap((name) => [...this.entries.get(name)!.versions.values()].sort((a, b) => b.version - a.version));
  }

  /**
   * Leases the current version of `name` (or `version` when given) for use across awaits, so it
   * is not released meanwhile; undefined when it is not loaded.
   */
  acquire(name: string, version?: number): ModelLease | undefined {
    const model = version === undefined ? this.current(name) : this.get(name, version);
    if (!model) return undefined;
    return { model, release: acquireModel(model) };
  }

  /**
   * Atomically makes `model` current for its name. The replaced version is kept for pinned
   * requests (up to `retainPrevious` per name); versions beyond that, and an older object of the
   * same version, are released once their in-flight inferences finish.
   */
  activate(model: LoadedModel): void {
    const entry = this.entryOf(model.name);
    const before = entry.current;
    if (before === model) return;
    const stale = entry.versions.get(model.version);
    if (stale && stale !== model) void retireModel(stale, this.releaseGraceMs);
    entry.versions.set(model.version, model);
    entry.current = model;
    entry.previous = entry.previous.filter((v) => v !== model.version);
    if (before && before.version !== model.version) entry.previous.unshift(before.version);
    this.trim(entry);
    this.changed(model.name, before);
  }

  /** Stops serving a current version for `name` (no Production version any more); it is retained like a replaced one. */
  deactivate(name: string): void {
    const entry = this.entries.get(name);
    const before = entry?.current;
    if (!entry || !before) return;
    entry.current = undefined;
    entry.previous = [before.version, ...entry.previous.filter((v) => v !== before.version)];
    this.trim(entry);
    this.changed(name, before);
  }

  /** Unloads one version (deactivating it first if current), e.g. one the registry rolled back. */
  remove(name: string, version: number): void {
    const entry = this.entries.get(name);
    const model = entry?.versions.get(version);
    if (!entry || !model) return;
    if (entry.current === model) this.deactivate(name);
    entry.versions.delete(version);
    entry.previous = entry.previous.filter((v) => v !== version);
    void retireModel(model, this.releaseGraceMs);
    if (entry.versions.size === 0) this.entries.delete(name);
    this.metrics.loaded.set(this.count());
  }

  /** Subscribes to changes of current versions; returns the unsubscribe function. */
  onChange(listener: ModelChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Unloads everything: waits for in-flight inferences, then releases every session. */
  async close(): Promise<void> {
    for (const entry of this.entries.values()) if (entry.current) this.metrics.info.remove(infoLabels(entry.current));
    const models = this.list();
    this.entries.clear();
    this.serving = undefined;
    this.isReady = false;
    this.metrics.loaded.set(0);
    await Promise.all(models.map((m) => retireModel(m, 0)));
  }

  private entryOf(name: string): NameEntry {
    let entry = this.entries.get(name);
    if (!entry) this.entries.set(name, (entry = { current: undefined, versions: new Map(), previous: [] }));
    return entry;
  }

  /** Releases versions retained beyond the limit. */
  private trim(entry: NameEntry): void {
    while (entry.previous.length > this.retainPrevious) {
      const version = entry.previous.pop()!;
      const model = entry.versions.get(version);
      entry.versions.delete(version);
      if (model) void retireModel(model, this.releaseGraceMs);
    }
  }

  private count(): number {
    let n = 0;
    for (const entry of this.entries.values()) n += entry.versions.size;
    return n;
  }

  private changed(name: string, before: LoadedModel | undefined): void {
    this.serving = undefined;
    const current = this.entries.get(name)?.current;
    // Old series first: a scrape must never see two current versions of one name.
    if (before) this.metrics.info.remove(infoLabels(before));
    if (current) this.metrics.info.set(infoLabels(current), 1);
    this.metrics.swaps.inc({ model: name });
    this.metrics.loaded.set(this.count());
    this.options.logger?.info(
      { model: name, version: current?.version, previous: before?.version, sha256: current?.sha256 },
      current ? 'model version now serving' : 'model no longer served',
    );
    for (const listener of this.listeners) {
      try {
        listener(name, current);
      } catch (error) {
        // A listener's bug must not undo or half-finish a swap that already happened.
        this.options.logger?.error({ err: error, model: name }, 'model change listener failed');
      }
    }
  }
}
