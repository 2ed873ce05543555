// Proves the contract checks bite: `buf breaking` against the committed
// baseline fails on deliberately broken copies of proto/ and passes on an
// untouched copy, and `buf lint` passes on the real tree.
//
// Run: node --import tsx --test test/contracts/breaking.test.ts

import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const buf = join(repoRoot, 'node_modules', '.bin', 'buf');
const baseline = join(repoRoot, 'contracts', 'baseline.binpb');
const ingestionProto = join('proto', 'nepse', 'ingestion', 'v1', 'ingestion.proto');

interface BufAnnotation {
  path: string;
  type: string;
  message: string;
}

function runBuf(cwd: string, args: string[]): SpawnSyncReturns<string> {
  const result = spawnSync(buf, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return result;
}

/** Parses buf's `--error-format json` output: one JSON object per line. */
function annotations(stdout: string): BufAnnotation[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as BufAnnotation);
}

const workDirs: string[] = [];

/** A fresh copy of proto/ and buf.yaml in a temporary directory. */
function copyContracts(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nepse-contracts-'));
  workDirs.push(dir);
  cpSync(join(repoRoot, 'proto'), join(dir, 'proto'), { recursive: true });
  cpSync(join(repoRoot, 'buf.yaml'), join(dir, 'buf.yaml'));
  return dir;
}

/** Replaces exactly one occurrence of `from` in a file of the copy. */
function edit(dir: string, relPath: string, from: string, to: string): void {
  const file = join(dir, relPath);
  const text = readFileSync(file, 'utf8');
  assert.equal(text.split(from).length, 2, `expected exactly one "${from}" in ${relPath}`);
  writeFileSync(file, text.replace(from, to));
}

function breaking(dir: string): SpawnSyncReturns<string> {
  return runBuf(dir, ['breaking', '--against', baseline, '--error-format', 'json']);
}

after(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

describe('contract checks', () => {
  test('buf lint passes on the real tree', () => {
    const result = runBuf(repoRoot, ['lint']);
    assert.equal(result.status, 0, `buf lint failed:\n${result.stdout}${result.stderr}`);
  });

  test('an untouched copy has no breaking change against the baseline', () => {
    const result = breaking(copyContracts());
    assert.equal(result.status, 0, `unexpected breaking change:\n${result.stdout}${result.stderr}`);
  });

  test("changing a field's type is reported as breaking", () => {
    const dir = copyContracts();
    edit(dir, ingestionProto, 'int64 line = 1;', 'string line = 1;');
    const result = breaking(dir);
    assert.notEqual(result.status, 0, 'buf breaking accepted a changed field type');
    const found = annotations(result.stdout);
    const hit = found.find((a) => a.type === 'FIELD_SAME_TYPE');
    assert.ok(hit, `no FIELD_SAME_TYPE in:\n${result.stdout}${result.stderr}`);
    assert.match(hit.path, /ingestion\/v1\/ingestion\.proto$/);
    assert.match(hit.message, /"line"/);
    assert.match(hit.message, /RejectedRow/);
  });

  test('deleting a field is reported as breaking', () => {
    const dir = copyContracts();
    edit(dir, ingestionProto, '  nepse.market.v1.DateRange range = 2;\n', '');
    const result = breaking(dir);
    assert.notEqual(result.status, 0, 'buf breaking accepted a deleted field');
    const hit = annotations(result.stdout).find((a) => a.type === 'FIELD_NO_DELETE');
    assert.ok(hit, `no FIELD_NO_DELETE in:\n${result.stdout}${result.stderr}`);
    assert.match(hit.message, /"range"/);
    assert.match(hit.message, /GetBarsRequest/);
  });

  test('renumbering a field is reported as breaking', () => {
    const dir = copyContracts();
    edit(dir, ingestionProto, 'string reason = 2;\n  // The Bar field', 'string reason = 12;\n  // The Bar field');
    const result = breaking(dir);
    assert.notEqual(result.status, 0, 'buf breaking accepted a renumbered field');
    const types = annotations(result.stdout).map((a) => a.type);
    assert.ok(
      types.includes('FIELD_NO_DELETE') || types.includes('FIELD_SAME_NAME'),
      `renumbering not named as breaking:\n${result.stdout}${result.stderr}`,
    );
  });

  test('buf lint rejects an undocumented field in a copy', () => {
    const dir = copyContracts();
    edit(dir, ingestionProto, '  string source = 2;\n}', '  string source = 2;\n  string undocumented = 3;\n}');
    const result = runBuf(dir, ['lint', '--error-format', 'json']);
    assert.notEqual(result.status, 0, 'buf lint accepted an undocumented field');
    assert.ok(
      annotations(result.stdout).some((a) => a.type === 'COMMENT_FIELD'),
      `no COMMENT_FIELD in:\n${result.stdout}${result.stderr}`,
    );
  });
});
