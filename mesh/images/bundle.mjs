// Bundles every service (services/*/main.ts) with esbuild into the tree its image carries, for
// each image variant: `embedded` (chdb and PGlite inside, for the dev overlay) and `server`
// (ClickHouse and PostgreSQL servers; neither engine inside). Usage: node bundle.mjs OUT_DIR.
//
// OUT_DIR/<variant>/<service>/ mirrors the repository so relative paths in the code still hold:
//   services/<service>/main.js (+ chunks, + train-worker.js, vector-worker.js)   descriptors/   package.json
//   node_modules/  only the packages left external, with their dependencies   web/dist/ (gateway)
// Packages stay external when they load files beside themselves at run time (.proto files,
// native addons, WASM) or must be require()d for OpenTelemetry to instrument them (@grpc/grpc-js).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = resolve(process.argv[2] ?? join(ROOT, '.data/bundle'));

/** Packages loaded at run time from node_modules rather than bundled. */
const EXTERNAL = [
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  'grpc-health-check',
  'chdb',
  '@electric-sql/pglite',
  'onnxruntime-node',
];
/** Optional dependencies of bundled packages that are never installed (pg's native binding). */
const ABSENT = ['pg-native'];
/** Engines only the embedded variant carries; the code imports them lazily (lib/store, lib/postgres). */
const EMBEDDED_ONLY = new Set(['chdb', '@electric-sql/pglite']);
const VARIANTS = { embedded: () => true, server: (pkg) => !EMBEDDED_ONLY.has(pkg) };

/** A package's name from an import specifier (`@grpc/grpc-js/build/x` → `@grpc/grpc-js`). */
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** The package and every dependency it needs at run time, resolved as Node would from the root. */
function closure(names) {
  const found = new Map();
  const visit = (name, from) => {
    const candidates = [join(from, 'node_modules', name), join(ROOT, 'node_modules', name)];
    const dir = candidates.find((candidate) => existsSync(join(candidate, 'package.json')));
    if (!dir || found.has(dir)) return;
    found.set(dir, name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) visit(dep, dir);
  };
  for (const name of names) visit(name, ROOT);
  return [...found.keys()].filter((dir) => !dir.slice(join(ROOT, 'node_modules').length + 1).includes('/node_modules/'));
}

/** Files of a native package that serve other platforms only (onnxruntime ships every one). */
function forThisPlatform(source) {
  const parts = source.split('/');
  const napi = parts.findIndex((part) => /^napi-v\d+$/.test(part));
  if (napi < 0 || parts.length <= napi + 1) return true;
  if (parts[napi + 1] !== process.platform) return false;
  return parts.length <= napi + 2 || parts[napi + 2] === process.arch;
}

const services = readdirSync(join(ROOT, 'services')).filter((name) => existsSync(join(ROOT, 'services', name, 'main.ts')));
const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
rmSync(OUT, { recursive: true, force: true });

for (const service of services) {
  const staging = join(OUT, '.staging', service);
  const entryPoints = ['main.ts', 'train-worker.ts', 'vector-worker.ts']
    .map((file) => join(ROOT, 'services', service, file))
    .filter(existsSync);
  const result = await build({
    entryPoints,
    outdir: staging,
    outbase: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    chunkNames: `services/${service}/[name]-[hash]`,
    external: [...EXTERNAL, ...ABSENT],
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __nepseRequire } from 'node:module'; const require = __nepseRequire(import.meta.url);" },
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const used = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const entry of output.imports)
      if (entry.external && !entry.path.startsWith('node:') && !builtinModules.includes(entry.path)) used.add(packageOf(entry.path));
  }
  // lib/grpc loads grpc-js through createRequire (so it can be instrumented): esbuild cannot see it.
  used.add('@grpc/grpc-js');
  for (const [variant, keep] of Object.entries(VARIANTS)) {
    const dir = join(OUT, variant, service);
    mkdirSync(dir, { recursive: true });
    cpSync(staging, dir, { recursive: true });
    cpSync(join(ROOT, 'descriptors'), join(dir, 'descriptors'), { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: `nepse-${service}`, version, private: true, type: 'module' }, null, 2)}\n`,
    );
    for (const pkg of closure([...used].filter(keep))) {
      const target = join(dir, 'node_modules', pkg.slice(join(ROOT, 'node_modules').length + 1));
      cpSync(pkg, target, { recursive: true, filter: forThisPlatform });
    }
    if (service === 'gateway' && existsSync(join(ROOT, 'web/dist'))) {
      cpSync(join(ROOT, 'web/dist'), join(dir, 'web/dist'), { recursive: true });
    }
  }
  console.log(`bundle: ${service} (external: ${[...used].sort().join(', ')})`);
}
rmSync(join(OUT, '.staging'), { recursive: true, force: true });
