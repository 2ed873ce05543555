import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startPredictionBed, type PredictionBed } from '../testing/prediction-bed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SYMBOLS = ['NABIL', 'NICA'];

/** What a run of the CLI left behind. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('nepse CLI against real services', () => {
  let bed: PredictionBed;
  let env: NodeJS.ProcessEnv;

  /** Runs `nepse <args>` as an operator would, to its end. */
  const nepse = (...args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'cli/nepse.ts', ...args],
        { cwd: ROOT, env, timeout: 20_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    bed = await startPredictionBed({ symbols: SYMBOLS });
    // Services the bed does not run point at a closed port, never at a `make dev` on this machine.
    env = {
      ...process.env,
      NEPSE_PREDICTION_ADDR: `127.0.0.1:${bed.prediction.port}`,
      NEPSE_REGISTRY_ADDR: `127.0.0.1:${bed.registryPort}`,
      NEPSE_INGESTION_ADDR: '127.0.0.1:1',
      NEPSE_TRAINING_ADDR: '127.0.0.1:1',
      NEPSE_MONITORING_ADDR: '127.0.0.1:1',
    };
  });

  after(async () => {
    await bed?.stop();
  });

  it('models lists the version in Production, and history how it got there', async () => {
    const models = await nepse('models');
    assert.equal(models.code, 0, models.stderr);
    const line = models.stdout.split('\n').find((l) => l.startsWith(bed.model.name));
    assert.match(line ?? '', new RegExp(`^${bed.model.name}\\s+v${bed.model.version}\\s+production\\s+ready\\b`));

    const history = await nepse('history', bed.model.name);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /v1\s+registered \(none\)/);
    assert.match(history.stdout, /v1\s+none → production\s+test\s+prediction test bed/);
  });

  it("predict prints the symbol's prediction with the model version that made it, as the service answers it", async () => {
    const run = await nepse('predict', 'nabil');
    assert.equal(run.code, 0, run.stderr);
    const { prediction } = await bed.client.predict({ symbol: 'NABIL' });
    const [header, row] = run.stdout.trim().split('\n');
    assert.match(header, /^SYMBOL\s+FEATURE DATE\s+CLOSE\s+PREDICTED\s+CHANGE\s+LOG RETURN\s+MODEL\s+DEGRADED$/);
    const lastDay = bed.bars.get('NABIL')!.at(-1)!.date;
    assert.match(
      row,
      new RegExp(
        `^NABIL\\s+${lastDay}\\s+${prediction!.baseClose.toFixed(2)}\\s+${prediction!.predictedClose.toFixed(2)}\\s+\\S+ %\\s+[+-]\\d\\.\\d{5}\\s+${bed.model.name} v${bed.model.version}\\s+no$`,
      ),
    );
  });

  it('predict with several symbols answers each from one batch', async () => {
    const run = await nepse('predict', 'NABIL', 'NICA', '--model', bed.model.name, '--version', String(bed.model.version));
    assert.equal(run.code, 0, run.stderr);
    const rows = run.stdout.trim().split('\n').slice(1);
    assert.deepEqual(
      rows.map((r) => r.split(/\s+/)[0]),
      SYMBOLS,
    );
    for (const r of rows) assert.match(r, new RegExp(`${bed.model.name} v${bed.model.version}\\s+no$`));
  });

  it('a symbol the service refuses exits 1 with the gRPC message, naming the field when it is malformed', async () => {
    const unknown = await nepse('predict', 'NOSUCH');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^nepse: .*NOSUCH/);

    const malformed = await nepse('predict', 'NOT A SYMBOL');
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /^nepse: symbol: symbol "NOT A SYMBOL" is not 1-20 capitals/);

    const batch = await nepse('predict', 'NABIL', 'NOSUCH');
    assert.equal(batch.code, 1, 'one failed symbol fails the command');
    assert.match(batch.stdout, /^NABIL\s/m);
    assert.match(batch.stderr, /^nepse: NOSUCH: /);
  });

  it('watch prints the current prediction and stops cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/nepse.ts', 'watch', 'NICA'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const row = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (/^\S+\s+NICA\s/m.test(stdout)) resolve();
      }),
    );
    const exited = once(child, 'exit');
    try {
      await Promise.race([row, exited.then(() => assert.fail(`watch ended early: ${stdout}`))]);
      child.kill('SIGINT');
      const [code] = await exited;
      assert.equal(code, 0);
      assert.match(stdout, new RegExp(`NICA\\s+${bed.bars.get('NICA')!.at(-1)!.date}\\s.*${bed.model.name} v${bed.model.version}\\s+no`));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('--json prints listings as one JSON document a script can read', async () => {
    const [models, history, predict] = await Promise.all([
      nepse('models', '--json'),
      nepse('history', bed.model.name, '--json'),
      nepse('predict', 'NABIL', 'NICA', '--json'),
    ]);
    for (const run of [models, history, predict]) assert.equal(run.code, 0, run.stderr);
    const versions = JSON.parse(models.stdout) as Array<{ name: string; version: number; stage: string }>;
    assert.ok(
      versions.some((v) => v.name === bed.model.name && v.version === bed.model.version && v.stage === 'STAGE_PRODUCTION'),
      models.stdout,
    );
    const entries = JSON.parse(history.stdout) as Array<{ version: number; actor?: string }>;
    assert.ok(entries.length >= 2 && entries.every((e) => e.version === bed.model.version), history.stdout);
    const predictions = JSON.parse(predict.stdout) as Array<{ symbol: string; modelName: string; predictedClose: number }>;
    assert.deepEqual(
      predictions.map((p) => p.symbol),
      SYMBOLS,
    );
    const { prediction } = await bed.client.predict({ symbol: 'NABIL' });
    assert.equal(predictions[0].predictedClose, prediction!.predictedClose);
  });

  it('watch --json prints one JSON object a line', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/nepse.ts', 'watch', 'NICA', '--json'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const line = new Promise<string>((resolve) =>
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
      }),
    );
    const exited = once(child, 'exit');
    try {
      const first = await Promise.race([line, exited.then(() => assert.fail(`watch ended early: ${stdout}`))]);
      assert.equal((JSON.parse(first) as { symbol: string }).symbol, 'NICA');
      child.kill('SIGINT');
      assert.equal((await exited)[0], 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('<command> --help describes each option with an example, without calling anything', async () => {
    const run = await nepse('predict', '--help');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^usage: nepse predict <SYMBOL\.\.\.>/);
    for (const option of ['model', 'version', 'as-of', 'json'])
      assert.match(run.stdout, new RegExp(`^  --${option}\\b.*e\\.g\\. .*--${option}`, 'm'), option);
  });

  it('bad usage prints the usage and exits 2, before calling anything', async () => {
    const lines = [
      [],
      ['frobnicate'],
      ['predict'],
      ['predict', 'NABIL', '--version', 'two'],
      ['predict', 'NABIL', '--as-of', '2024-02-30'],
      ['promote', 'm', '1', '--stage', 'live'],
      ['models', '--bogus'],
    ];
    const runs = await Promise.all(lines.map((args) => nepse(...args)));
    for (const [i, run] of runs.entries()) {
      assert.equal(run.code, 2, `nepse ${lines[i].join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /usage:/, `nepse ${lines[i].join(' ')}`);
    }
  });

  it('a service that does not answer exits 1 and says where the CLI looked', async () => {
    const run = await nepse('jobs');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /UNAVAILABLE/);
    assert.match(run.stderr, /training at 127\.0\.0\.1:1 \(NEPSE_TRAINING_ADDR\)/);
  });
});
