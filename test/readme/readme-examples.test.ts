/**
 * The README's `buf curl` examples run as written, by server reflection only, against the real
 * services: every shell command of a ```sh block that calls `node_modules/.bin/buf curl` is run
 * with bash from the repository root, its default address rewritten to the port the service got
 * here, and must exit 0 and print JSON a reader would recognise. A renamed method or field, a
 * service that stops serving reflection, or a README edit that breaks a command fails this test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GRPCInferenceService } from '../../gen/inference/grpc_service_pb.js';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { DEFAULT_PORTS } from '../../lib/config/index.js';
import { waitFor } from '../../lib/events/testing.js';
import { createGrpcClient } from '../../lib/grpc/index.js';
import { dayOf } from '../../lib/market/index.js';
import { randomWalkBars } from '../../services/feature/feature-sets/testing.js';
import { ingestionConfig } from '../../services/ingestion/config.js';
import { startIngestion } from '../../services/ingestion/service.js';
import { monitoringConfig } from '../../services/monitoring/config.js';
import { startMonitoring } from '../../services/monitoring/service.js';
import { startPredictionBed } from '../../testing/prediction-bed.js';
import { trainingConfig } from '../../services/training/config.js';
import { startTrainingService } from '../../services/training/service.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/nepse-sample.csv');
const MODEL = 'nepse-ridge';
/** Below this many, the extraction itself is suspect (a changed fence, a moved binary). */
const MIN_COMMANDS = 10;
/** Per command: buf curl answers in well under a second; reflection and a cold start add a little. */
const COMMAND_TIMEOUT_MS = 20_000;

/** One shell command of the README, continuation lines joined as bash joins them. */
interface ReadmeCommand {
  /** 1-based line of the README where it starts. */
  readonly line: number;
  readonly text: string;
}

/**
 * Shell commands of the ```sh blocks: a command ends at a newline outside quotes and not escaped
 * by `\`, so a quoted JSON body spanning lines stays one command. Comments are left out.
 */
function shellCommands(markdown: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```sh') continue;
    let end = i + 1;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    const block = lines.slice(i + 1, end).join('\n') + '\n';
    let text = '';
    let quote: '' | "'" | '"' = '';
    let line = i + 2;
    let start = line;
    const add = (chars: string) => {
      if (!text.trim()) start = line;
      text += chars;
    };
    for (let k = 0; k < block.length; k++) {
      const c = block[k];
      if (quote === "'") {
        if (c === "'") quote = '';
        text += c;
      } else if (c === '\\' && block[k + 1] === '\n') {
        // A line continuation: bash drops the pair, outside quotes and inside double quotes alike.
        k++;
      } else if (c === '\\') {
        text += c + block[++k];
      } else if (quote === '"') {
        if (c === '"') quote = '';
        text += c;
      } else if (c === '#' && /(^|\s)$/.test(text)) {
        while (k + 1 < block.length && block[k + 1] !== '\n') k++;
      } else if (c === '\n') {
        if (text.trim()) commands.push({ line: start, text: text.trim() });
        text = '';
      } else {
        if (c === "'" || c === '"') quote = c;
        add(c);
      }
      if (block[k] === '\n') line++;
    }
    assert.equal(quote, '', `README line ${i + 1}: a quote of a sh block is never closed`);
    i = end;
  }
  return commands;
}

/** What a command did: its exit code (null when killed), whether it ran out of time, and its output. */
interface Outcome {
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command line with bash from the repository root. It gets a process group of its own so
 * that a timeout kills what bash started too (buf, a `$(...)`), not only bash.
 */
function bash(command: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, stdout, stderr });
    });
  });
}

/** Each JSON value of buf curl's output: one pretty-printed object per response message. */
function parseJsonStream(output: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let from = -1;
  let inString = false;
  for (let k = 0; k < output.length; k++) {
    const c = output[k];
    if (inString) {
      if (c === '\\') k++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) from = k;
    } else if (c === '}') {
      if (--depth === 0) values.push(JSON.parse(output.slice(from, k + 1)));
    } else if (depth === 0 && !/\s/.test(c)) throw new Error(`not JSON at offset ${k}: ${output.slice(k, k + 40)}`);
  }
  if (depth !== 0) throw new Error('the output ends inside an object');
  return values;
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const bufCurls = shellCommands(readme).filter((c) => c.text.startsWith('node_modules/.bin/buf curl '));
/** NABIL's bars as ingestion stores them (day and close), read through the typed client once imported. */
const nabilBars: string[] = [];

/** A response as buf curl prints it: protobuf's JSON form, of any shape. */
type Json = any;

/** What a reader checks in a response, by `Service/Method` of the URL. */
const checks: Record<string, (messages: Json[]) => void> = {
  'nepse.ingestion.v1.IngestionService/ListSymbols': ([page]) => {
    const nabil = page.symbols.find((s: Json) => s.symbol === 'NABIL');
    assert.ok(nabil, 'NABIL is listed');
    assert.equal(Number(nabil.barCount), nabilBars.length, 'with every stored bar counted');
  },
  'nepse.ingestion.v1.IngestionService/GetBars': (messages) => {
    const bars = messages.flatMap((m) => m.bars ?? []).map((b: Json) => `${dayOf(b.date)} ${b.close}`);
    assert.ok(bars.length > 0);
    assert.deepEqual(bars, nabilBars, 'every stored NABIL bar, in date order');
  },
  'nepse.feature.v1.FeatureService/ListFeatureSets': ([page]) => {
    const ohlcv = page.featureSets.find((s: Json) => s.ref?.name === 'ohlcv');
    assert.ok(ohlcv, 'the ohlcv feature set is listed');
    assert.equal(ohlcv.features.length, 25);
  },
  'nepse.prediction.v1.PredictionService/Predict': ([response]) => {
    const p = response.prediction;
    assert.equal(p.symbol, 'NABIL');
    assert.equal(p.modelName, MODEL);
    assert.ok(Number.isFinite(p.predictedClose) && p.predictedClose > 0, `a positive predicted close, got ${p.predictedClose}`);
  },
  'nepse.training.v1.TrainingService/StartTraining': ([response]) => {
    assert.match(response.job.jobId, /\S/, 'a job id');
    assert.equal(response.job.spec.modelName, MODEL);
  },
  'inference.GRPCInferenceService/ModelMetadata': ([response]) => {
    assert.equal(response.name, MODEL);
    assert.deepEqual(
      response.inputs.map((t: Json) => [t.name, t.datatype, t.shape.map(Number)]),
      [['features', 'FP32', [-1, 25]]],
    );
  },
  'inference.GRPCInferenceService/ModelInfer': ([response]) => {
    assert.equal(response.modelName, MODEL);
    assert.equal(response.outputs.length, 1, 'one output tensor');
    const [output] = response.outputs;
    assert.equal(output.datatype, 'FP32');
    assert.deepEqual(output.shape.map(Number), [1, 1]);
    assert.equal(output.contents.fp32Contents.length, 1, 'one value');
    assert.ok(Number.isFinite(output.contents.fp32Contents[0]));
  },
  'nepse.monitoring.v1.MonitoringService/GetModelPerformance': ([response]) => {
    assert.equal(response.report.modelName, MODEL);
  },
  'nepse.monitoring.v1.MonitoringService/ListAlerts': ([page]) => {
    assert.ok(page.alerts === undefined || Array.isArray(page.alerts));
  },
};

describe('README buf curl examples', () => {
  const stops: Array<() => unknown> = [];
  /** The README's default gRPC port → the port the service got here. */
  const ports = new Map<number, number>();
  /** Default gRPC port → the services the README expects `--list-services` to show there. */
  const servicesAt = new Map<number, string[]>([
    [DEFAULT_PORTS.ingestion, [IngestionService.typeName]],
    [DEFAULT_PORTS.feature, [FeatureService.typeName]],
    [DEFAULT_PORTS.training, [TrainingService.typeName]],
    [DEFAULT_PORTS.registry, [RegistryService.typeName]],
    [DEFAULT_PORTS.prediction, [PredictionService.typeName, GRPCInferenceService.typeName]],
    [DEFAULT_PORTS.monitoring, [MonitoringService.typeName]],
  ]);

  before(async () => {
    // NABIL's history ends before the fixture's first day, so importing the fixture continues it
    // and leaves the feature service a vector for the fixture's last day to predict from.
    const bed = await startPredictionBed({
      symbols: ['NABIL'],
      history: () => randomWalkBars(80, { seed: 7, startPrice: 500, startDate: '2023-08-01' }),
      modelName: MODEL,
    });
    stops.push(() => bed.stop());
    const dataDir = await mkdtemp(join(tmpdir(), 'nepse-readme-'));
    stops.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { NATS_URL: bed.nats.url, DATA_DIR: dataDir, BIND_HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
    const registryAddr = `127.0.0.1:${bed.registryPort}`;

    const ingestion = await startIngestion(ingestionConfig({ ...env, INGESTION_PORT: '0', INGESTION_METRICS_PORT: '0' }));
    stops.push(() => ingestion.stop());
    const monitoring = await startMonitoring(
      monitoringConfig({ ...env, MONITORING_PORT: '0', MONITORING_METRICS_PORT: '0', NEPSE_REGISTRY_ADDR: registryAddr }),
    );
    stops.push(() => monitoring.stop());
    const training = await startTrainingService(
      trainingConfig({
        ...env,
        TRAINING_PORT: '0',
        TRAINING_METRICS_PORT: '0',
        NEPSE_FEATURE_ADDR: `127.0.0.1:${bed.featurePort}`,
        NEPSE_REGISTRY_ADDR: registryAddr,
      }),
    );
    stops.push(() => training.stop());
    for (const [name, port] of [
      ['ingestion', ingestion.port],
      ['feature', bed.featurePort],
      ['training', training.port],
      ['registry', bed.registryPort],
      ['prediction', bed.prediction.port],
      ['monitoring', monitoring.port],
    ] as const) {
      ports.set(DEFAULT_PORTS[name], port);
    }

    // What the README has the reader do first: import the sample export, as `nepse import` streams it.
    const ingestionClient = createGrpcClient(IngestionService, `127.0.0.1:${ingestion.port}`);
    stops.push(() => ingestionClient.close());
    async function* csv() {
      yield { options: { fileName: 'nepse-sample.csv' } };
      for await (const chunk of createReadStream(FIXTURE)) yield { chunk: chunk as Buffer };
    }
    const imported = await ingestionClient.importCsv(csv());
    assert.ok(imported.symbols.includes('NABIL'), 'the fixture has NABIL bars');
    for await (const page of ingestionClient.getBars({ symbol: 'NABIL' }))
      nabilBars.push(...page.bars.map((b) => `${dayOf(b.date)} ${b.close}`));
    const lastDay = nabilBars.at(-1)?.split(' ')[0];
    await waitFor(
      async () => dayOf((await bed.features.getFeatures({ symbol: 'NABIL' })).vector?.date) === lastDay,
      'the NABIL vector of the imported bars',
      {
        timeoutMs: 20_000,
        intervalMs: 50,
      },
    );

    // Monitoring answers NOT_FOUND for a model it has heard no prediction of.
    await bed.client.predict({ symbol: 'NABIL', modelName: MODEL });
    const monitoringClient = createGrpcClient(MonitoringService, `127.0.0.1:${monitoring.port}`);
    stops.push(() => monitoringClient.close());
    await waitFor(() => monitoringClient.getModelPerformance({ modelName: MODEL }), 'monitoring to hear a prediction of nepse-ridge', {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
  });

  after(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it(`finds at least ${MIN_COMMANDS} buf curl commands in the README`, () => {
    assert.ok(bufCurls.length >= MIN_COMMANDS, `found ${bufCurls.length}: ${bufCurls.map((c) => c.line).join(', ')}`);
  });

  for (const command of bufCurls) {
    const target = /http:\/\/127\.0\.0\.1:(\d+)(\/\S*)?/.exec(command.text);
    const method = target?.[2]?.slice(1) ?? '--list-services';
    it(`README line ${command.line}: ${method}`, async () => {
      assert.ok(target, 'the command calls http://127.0.0.1:<port>');
      const local = command.text.replace(/127\.0\.0\.1:(\d+)/g, (_, port: string) => {
        const actual = ports.get(Number(port));
        assert.ok(actual, `no service of the mesh has the default port ${port}`);
        return `127.0.0.1:${actual}`;
      });
      const { code, timedOut, stdout, stderr } = await bash(local, COMMAND_TIMEOUT_MS);
      assert.equal(code, 0, `${timedOut ? `timed out after ${COMMAND_TIMEOUT_MS} ms` : `exit ${code}`}\n$ ${local}\n${stdout}${stderr}`);

      if (command.text.includes('--list-services')) {
        const listed = stdout.split('\n').map((l) => l.trim());
        for (const name of servicesAt.get(Number(target[1])) ?? []) assert.ok(listed.includes(name), `${name} is listed:\n${stdout}`);
        return;
      }
      const messages = parseJsonStream(stdout);
      assert.ok(messages.length > 0, `a JSON response:\n${stdout}`);
      const check = checks[method];
      assert.ok(check, `no check of ${method} here: add what a reader would look at in its response`);
      check(messages);
    });
  }
});
