import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DescService } from '@bufbuild/protobuf';
import { MeshEvents } from '../../lib/events/catalog.js';
import { ROOT } from '../../mesh/call-graph.js';

/** What a service's code does, read from the files its main.ts reaches. */
export interface ServiceCode {
  /** gRPC services it serves (`implement(XService, …)`), by full name. */
  serves: Set<string>;
  /** gRPC paths (`package.Service/Method`) it calls on other services. */
  calls: Set<string>;
  /** Events (`bars.ingested`) it publishes or consumes. */
  events: Set<string>;
}

/** Services that have a main.ts, by folder name. */
export function servicesInCode(): string[] {
  return readdirSync(join(ROOT, 'services')).filter((name) => existsSync(join(ROOT, 'services', name, 'main.ts')));
}

/**
 * The source files a service runs: main.ts and everything it imports, transitively, inside its
 * own folder (test beds and test files are never reached from main.ts, so they do not count).
 */
export function serviceSources(service: string): string[] {
  const folder = join(ROOT, 'services', service);
  const seen = new Set<string>();
  const queue = [join(folder, 'main.ts')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts'));
      if (target.startsWith(folder + '/')) queue.push(target);
    }
  }
  return [...seen].sort();
}

/** Generated service descriptors a file imports from gen/. */
async function importedServices(file: string, text: string): Promise<DescService[]> {
  const found: DescService[] = [];
  for (const match of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']*\/gen\/[^']+_pb\.js)'/g)) {
    const module = (await import(resolve(dirname(file), match[2]!.replace(/\.js$/, '.ts')))) as Record<string, DescService>;
    for (const part of match[1]!.split(',')) {
      const name = part
        .replace(/\btype\b/, '')
        .trim()
        .split(/\s+as\s+/)[0]!;
      if (module[name]?.kind === 'service') found.push(module[name]);
    }
  }
  return found;
}

/**
 * Reads what a service's code serves, calls and sends: a generated descriptor passed to
 * `implement(` is served; of every other descriptor its sources import, each method whose client
 * function (by local name, `.getFeatures(`) they invoke is called; `MeshEvents.x` names an event.
 */
export async function readServiceCode(service: string): Promise<ServiceCode> {
  const files = serviceSources(service);
  const all = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  const descriptors = new Map<string, DescService>();
  for (const file of files) {
    for (const desc of await importedServices(file, readFileSync(file, 'utf8'))) descriptors.set(desc.typeName, desc);
  }
  const code: ServiceCode = { serves: new Set(), calls: new Set(), events: new Set() };
  for (const desc of descriptors.values()) {
    if (new RegExp(`(?:implement|router\\.service)\\(\\s*${desc.name}\\b`).test(all)) {
      code.serves.add(desc.typeName);
      continue;
    }
    for (const method of desc.methods) {
      if (new RegExp(`\\.${method.localName}\\(`).test(all)) code.calls.add(`${desc.typeName}/${method.name}`);
    }
  }
  // A service that forwards calls by table (the gateway) names each forwarded method by its path.
  for (const match of all.matchAll(/'([a-z][\w.]*\.[A-Z]\w*)\/([A-Z]\w*)'/g)) {
    const desc = [...descriptors.values()].find((d) => d.typeName === match[1]);
    if (desc && !code.serves.has(desc.typeName) && desc.methods.some((m) => m.name === match[2])) code.calls.add(`${match[1]}/${match[2]}`);
  }
  // Health checks go through grpc-health-check's or a hand-made client, not a generated descriptor.
  if (/grpc\.health\.v1/.test(all) && /\.check\(|\/Check\b/.test(all)) code.calls.add('grpc.health.v1.Health/Check');
  for (const match of all.matchAll(/MeshEvents\.(\w+)/g)) {
    const event = MeshEvents[match[1] as keyof typeof MeshEvents];
    if (event) code.events.add(event.name);
  }
  return code;
}

/** A service's config reader (the `xxxConfig(env)` export of its config.ts), or undefined without one. */
export async function configReader(service: string): Promise<((env: NodeJS.ProcessEnv) => Record<string, unknown>) | undefined> {
  const file = join(ROOT, 'services', service, 'config.ts');
  if (!existsSync(file)) return undefined;
  const module = (await import(file)) as Record<string, unknown>;
  const reader = Object.entries(module).find(([name, value]) => /Config$/.test(name) && typeof value === 'function');
  return reader?.[1] as ((env: NodeJS.ProcessEnv) => Record<string, unknown>) | undefined;
}

/** Environment variables the kit reads itself (`process.env.X` or `env.X` in lib/), outside any config schema. */
export function kitEnv(): Set<string> {
  const names = new Set<string>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !/test|testing/.test(entry.name)) {
        for (const match of readFileSync(path, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(match[1]!);
      }
    }
  };
  walk(join(ROOT, 'lib'));
  return names;
}
