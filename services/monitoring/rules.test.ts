import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lib/config/index.js';
import { monitoringConfig } from './config.js';
import { startMonitoring } from './service.js';
import { DEFAULT_RULES, loadRules, parseRules, type Rule } from './rules.js';

const problems = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return [];
};

describe('alert rules', () => {
  it('has one default rule of each kind with the documented thresholds', () => {
    assert.deepEqual(
      DEFAULT_RULES.map((r) => [r.name, r.kind, r.severity]),
      [
        ['live_error_ratio', 'live_error', 'warning'],
        ['direction_floor', 'directional_accuracy', 'warning'],
        ['feature_drift', 'feature_drift', 'warning'],
        ['stale_bars', 'stale_bars', 'critical'],
        ['prediction_latency', 'prediction_latency', 'warning'],
      ],
    );
    const find = <K extends Rule['kind']>(kind: K) => DEFAULT_RULES.find((r): r is Extract<Rule, { kind: K }> => r.kind === kind)!;
    assert.deepEqual([find('live_error').k, find('live_error').window_days], [1.5, 20]);
    assert.deepEqual([find('directional_accuracy').min_accuracy, find('directional_accuracy').min_count], [0.45, 30]);
    assert.equal(find('feature_drift').max_psi, 0.2);
  });

  it('fills parameters with defaults and refuses bad ones naming the key', () => {
    const { rules } = parseRules({ rules: [{ name: 'fast', kind: 'prediction_latency', severity: 'critical', max_p99_ms: 50 }] });
    assert.deepEqual(rules, [
      { name: 'fast', kind: 'prediction_latency', severity: 'critical', max_p99_ms: 50, window_minutes: 15, min_samples: 100 },
    ]);
    assert.match(
      problems(() => parseRules({ rules: [{ name: 'x', kind: 'live_error', severity: 'warning', k: 'big' }] }))[0],
      /^rules: rules\.0\.k: /,
    );
    assert.match(problems(() => parseRules({ rules: [{ name: 'x', kind: 'live_error', severity: 'loud' }] }))[0], /rules\.0\.severity/);
    assert.match(problems(() => parseRules({ rules: [{ name: 'x', kind: 'nonsense', severity: 'info' }] }))[0], /rules\.0\.kind/);
    assert.match(
      problems(() => parseRules({ rules: [{ name: 'x', kind: 'stale_bars', severity: 'info', slack: 3 }] }))[0],
      /rules\.0.*slack/,
    );
    assert.match(problems(() => parseRules({ webhook_url: 'not a url' }))[0], /webhook_url/);
    assert.match(
      problems(() =>
        parseRules({
          rules: [
            { name: 'a', kind: 'stale_bars', severity: 'info' },
            { name: 'a', kind: 'stale_bars', severity: 'info' },
          ],
        }),
      )[0],
      /rules\.1\.name: .*twice/,
    );
  });

  it('a bad rules file fails the start with a message naming the file and key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nepse-rules-'));
    try {
      const file = join(dir, 'rules.yaml');
      await writeFile(
        file,
        'rules:\n  - name: direction_floor\n    kind: directional_accuracy\n    severity: warning\n    min_accuracy: 1.5\n',
      );
      await assert.rejects(loadRules(file), (error: ConfigError) =>
        error.problems.some((p) => p.startsWith(`${file}: rules.0.min_accuracy:`)),
      );
      await assert.rejects(
        startMonitoring(monitoringConfig({ MONITORING_RULES_FILE: file, LOG_LEVEL: 'silent' })),
        /rules\.0\.min_accuracy/,
      );
      await writeFile(file, 'rules: [unclosed');
      await assert.rejects(loadRules(file), /not valid YAML/);
      await assert.rejects(loadRules(join(dir, 'missing.yaml')), /MONITORING_RULES_FILE: cannot read/);
      await writeFile(file, 'webhook_url: http://127.0.0.1:9/hook\n');
      assert.deepEqual(await loadRules(file), { rules: [...DEFAULT_RULES], webhookUrl: 'http://127.0.0.1:9/hook' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
