/**
 * The house rules of the layout, read from the import specifiers of every TypeScript file: a
 * service imports no other service (tests included: tests that need more come through testing/,
 * which only tests load), cli/ and scripts/ import no service code (they speak to services over their contracts), lib/
 * depends on nothing above it, and lib/ has no import loops.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../../lib/runtime/service-process.js';

/** Folders whose files are read; generated code and dependencies are not. */
const READ = ['lib', 'services', 'testing', 'cli', 'scripts', 'bench', 'test', 'mesh'];

/** An import of one file by another, as repository paths with forward slashes. */
interface Edge {
  from: string;
  to: string;
  specifier: string;
}

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (/\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const repoPath = (absolute: string) => relative(ROOT, absolute).split(sep).join('/');

/**
 * Every relative import of every file (static, type-only, re-exports and `import()` of a string),
 * resolved to a repository path (`.js` written for a `.ts` file).
 */
function readImports(): Edge[] {
  const edges: Edge[] = [];
  for (const folder of READ) {
    for (const file of tsFiles(join(ROOT, folder))) {
      const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      for (const { fileName: specifier } of info.importedFiles) {
        if (!specifier.startsWith('.')) continue;
        const to = repoPath(resolve(dirname(file), specifier)).replace(/\.js$/, '.ts');
        edges.push({ from: repoPath(file), to, specifier });
      }
    }
  }
  return edges;
}

const edges = readImports();
const serviceOf = (path: string) => /^services\/([^/]+)\//.exec(path)?.[1];
const show = (list: Edge[]) => list.map((e) => `${e.from} imports ${e.specifier}`).join('\n');

describe('import boundaries', () => {
  it('reads the imports it judges (testing/ starts the services through their exported entries)', () => {
    assert.ok(edges.length > 500, `only ${edges.length} imports read`);
    assert.ok(edges.some((e) => e.from.startsWith('testing/') && e.to === 'services/prediction/service.ts'));
  });

  it('no file under services/<a>/ imports services/<b>/, tests included', () => {
    const crossing = edges.filter((e) => serviceOf(e.from) && serviceOf(e.to) && serviceOf(e.from) !== serviceOf(e.to));
    assert.equal(
      show(crossing),
      '',
      'a test needing another service boots it through testing/ (TestNetwork); shared code goes to lib/ or the contract',
    );
  });

  it('service code other than tests imports nothing from testing/: what ships never loads the harness', () => {
    const shipped = edges.filter((e) => e.from.startsWith('services/') && !e.from.endsWith('.test.ts') && e.to.startsWith('testing/'));
    assert.equal(show(shipped), '');
  });

  it('cli/ and scripts/ import no service code: they speak to services through their contracts', () => {
    const reaching = edges.filter((e) => /^(cli|scripts)\//.test(e.from) && e.to.startsWith('services/'));
    assert.equal(
      show(reaching),
      '',
      'what cli/ or scripts/ share with a service belongs in lib/ or the contract; tests go through testing/',
    );
  });

  it('lib/ imports nothing from services/, testing/, cli/, scripts/ or bench/', () => {
    const upward = edges.filter((e) => e.from.startsWith('lib/') && /^(services|testing|cli|scripts|bench)\//.test(e.to));
    assert.equal(show(upward), '');
  });

  it('lib/ has no import loops (type imports included)', () => {
    const graph = new Map<string, string[]>();
    for (const e of edges) {
      if (!e.from.startsWith('lib/') || !e.to.startsWith('lib/') || e.from.endsWith('.test.ts')) continue;
      graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    }
    assert.deepEqual(loops(graph), []);
  });
});

/** The strongly connected components of more than one file, or of a file importing itself (Tarjan). */
function loops(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}
