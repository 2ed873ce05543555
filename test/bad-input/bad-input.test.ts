/**
 * The bad-input suite: every RPC of every service, the gateway's included, fed what users and
 * broken clients send (see the case tables beside this file). One mesh is booted for all of them;
 * each case asserts the status code and the field named in its details, that every service still
 * answers health afterwards, and that nothing was stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DescService } from '@bufbuild/protobuf';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { GatewayService } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { GRPCInferenceService } from '../../gen/inference/grpc_service_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { grpc } from '../../lib/grpc/index.js';
import { outcomeOf, snapshot, startBadInputBed, unhealthy, type BadInputBed } from './bed.js';
import type { BadCase } from './case.js';
import { FEATURE_CASES, TRAINING_CASES } from './feature-training-cases.js';
import { GATEWAY_CASES } from './gateway-cases.js';
import { INGESTION_CASES } from './ingestion-cases.js';
import { MONITORING_CASES, PREDICTION_CASES } from './prediction-monitoring-cases.js';
import { REGISTRY_CASES } from './registry-cases.js';

const CASES: BadCase[] = [
  ...INGESTION_CASES,
  ...FEATURE_CASES,
  ...TRAINING_CASES,
  ...REGISTRY_CASES,
  ...PREDICTION_CASES,
  ...MONITORING_CASES,
  ...GATEWAY_CASES,
];
const codeName = (code: number) => grpc.status[code] ?? String(code);

describe('bad input', { concurrency: 1 }, () => {
  let bed: (BadInputBed & { close(): Promise<void> }) | undefined;
  let stored = '';
  before(async () => {
    bed = await startBadInputBed();
    stored = await snapshot(bed);
  });
  after(() => bed?.close());

  it('has at least 100 cases, over every RPC that takes input', () => {
    assert.ok(CASES.length >= 100, `${CASES.length} cases`);
    const services: DescService[] = [
      IngestionService,
      FeatureService,
      TrainingService,
      RegistryService,
      PredictionService,
      GRPCInferenceService,
      MonitoringService,
      GatewayService,
    ];
    const missing = services.flatMap((s) =>
      s.methods
        .filter((m) => m.input.fields.length > 0 && !CASES.some((c) => c.name.startsWith(`${s.name}.${m.name}:`)))
        .map((m) => `${s.name}.${m.name}`),
    );
    assert.deepEqual(missing, [], 'RPCs with no bad-input case');
  });

  for (const c of CASES) {
    it(c.name, { todo: c.todo }, async () => {
      const started = Date.now();
      const outcome = await outcomeOf(() => c.call(bed!));
      const tookMs = Date.now() - started;
      assert.equal(codeName(outcome.code), codeName(c.code), `status (${outcome.message})`);
      if (c.field !== undefined || outcome.code !== grpc.status.OK)
        assert.equal(outcome.field, c.field, `field named (${outcome.message})`);
      if (c.withinMs !== undefined) assert.ok(tookMs <= c.withinMs, `took ${tookMs} ms, more than ${c.withinMs} ms`);
      assert.deepEqual(await unhealthy(bed!), [], 'services not answering health');
      assert.equal(await snapshot(bed!), stored, 'something was stored');
    });
  }
});
