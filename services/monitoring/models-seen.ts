import type { MonitoringStore } from './store.js';

/**
 * The model versions predictions were heard from, and which version of each name is being served.
 * The registry says which: its Production version (see {@link ModelsSeen.setProduction}), so a
 * request pinning an older version, or an instance still answering from the old version during a
 * swap, does not move the rules back onto it. While the registry has not answered for a name, the
 * version of its most recent prediction stands in. Rules are evaluated for the served version, so
 * promoting a new version moves every model rule onto it.
 */
export class ModelsSeen {
  private readonly versions = new Map<string, Set<number>>();
  private readonly latest = new Map<string, { version: number; at: number }>();
  /** The registry's Production version per name; 0 when it has none. */
  private readonly production = new Map<string, number>();

  /** Fills the view from the stored predictions (after a restart). */
  async load(store: MonitoringStore): Promise<void> {
    for (const row of await store.modelVersions()) this.observe(row.modelName, row.modelVersion, row.lastAt, row.shadow);
  }

  /**
   * Records a prediction of `name` v`version` made at `at` (epoch ms). A shadow prediction (a
   * challenger's) makes its version known but never the latest: it is not what is served.
   */
  observe(name: string, version: number, at: number, shadow = false): void {
    let set = this.versions.get(name);
    if (!set) this.versions.set(name, (set = new Set()));
    set.add(version);
    const current = this.latest.get(name);
    if (shadow) return;
    if (!current || at > current.at || (at === current.at && version > current.version)) this.latest.set(name, { version, at });
  }

  /**
   * Records the registry's answer for `name`: its Production version, 0 for none (withdrawn, or
   * never promoted), or undefined when the registry did not answer, which falls back to the
   * version of the most recent prediction.
   */
  setProduction(name: string, version: number | undefined): void {
    if (version === undefined) this.production.delete(name);
    else this.production.set(name, version);
  }

  /** Every model name predictions were heard of. */
  names(): string[] {
    return [...this.versions.keys()].sort();
  }

  /** Whether any prediction of the name (and version, unless 0) was heard. */
  has(name: string, version = 0): boolean {
    const set = this.versions.get(name);
    return Boolean(set && (version === 0 || set.has(version)));
  }

  /** Each model name with the version it is served at now; a name whose Production version was never heard from is left out. */
  servedVersions(): { modelName: string; modelVersion: number }[] {
    const served: { modelName: string; modelVersion: number }[] = [];
    for (const modelName of this.names()) {
      const production = this.production.get(modelName);
      const modelVersion = production ?? this.latest.get(modelName)!.version;
      if (modelVersion > 0 && this.has(modelName, modelVersion)) served.push({ modelName, modelVersion });
    }
    return served;
  }
}
