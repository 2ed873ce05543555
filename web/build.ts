/**
 * Builds the dashboard into web/dist/: one bundled, minified script (esbuild), its stylesheet and
 * index.html, which the gateway serves at `/` (GATEWAY_WEB_DIR). `--if-missing` builds only when
 * web/dist/index.html is absent, so `make dev`, `make demo` and `make test` build on first use and
 * cost nothing after. Run with `node --import tsx web/build.ts` or `make web`.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The web/ folder. */
export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
/** Where the built dashboard goes. */
export const DIST_DIR = join(WEB_DIR, 'dist');

/** Builds web/dist/ from web/src/, web/index.html and web/styles.css; returns the bundle's size in bytes. */
export async function buildDashboard(outDir = DIST_DIR): Promise<number> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(WEB_DIR, 'src/main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(join(WEB_DIR, 'styles.css'), join(outDir, 'styles.css'));
  // A build stamp on the asset URLs, so a browser never pairs a new page with a cached old script.
  const stamp = Date.now().toString(36);
  const html = (await readFile(join(WEB_DIR, 'index.html'), 'utf8')).replaceAll('__BUILD__', stamp);
  await writeFile(join(outDir, 'index.html'), html);
  return (await stat(join(outDir, 'app.js'))).size;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--if-missing') && existsSync(join(DIST_DIR, 'index.html'))) process.exit(0);
  const started = performance.now();
  const bytes = await buildDashboard();
  console.log(`web/dist built in ${Math.round(performance.now() - started)} ms (app.js ${(bytes / 1024).toFixed(0)} KiB)`);
}
