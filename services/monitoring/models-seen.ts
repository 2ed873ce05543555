import type { MonitoringStore } from './store.js';

/**
 * The model versions predictions were heard from, and which version of each name is being served:
 * the one of the most recent prediction. Rules are evaluated for the served version, so promoting
 * a new version moves every model rule onto it.
 */
export class ModelsSeen {
  private readonly versions = new Map<string, Set<number>>();
  private readonly served = new Map<string, { version: number; at: number }>();

  /** Fills the view from the stored predictions (after a restart). */
  async load(store: MonitoringStore): Promise<void> {
    for (const row of await store.modelVersions()) this.observe(row.modelName, row.modelVersion, row.lastAt);
  }

  /** Records a prediction of `name` v`version` made at `at` (epoch ms). */
  observe(name: string, version: number, at: number): void {
    let set = this.versions.get(name);
    if (!set) this.versions.set(name, (set = new Set()));
    set.add(version);
    const current = this.served.get(name);
    if (!current || at > current.at || (at === current.at && version > current.version)) this.served.set(name, { version, at });
  }

  /** Whether any prediction of the name (and version, unless 0) was heard. */
  has(name: string, version = 0): boolean {
    const set = this.versions.get(name);
    return Boolean(set && (version === 0 || set.has(version)));
  }

  /** Each model name with the version it is served at now. */
  servedVersions(): { modelName: string; modelVersion: number }[] {
    return [...this.served].map(([modelName, { version }]) => ({ modelName, modelVersion: version })).sort((a, b) => a.modelName.localeCompare(b.modelName));
  }
}
