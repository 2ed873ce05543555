/**
 * Predict latency with a shadow model set beside without: the same prediction process measured
 * first alone, then after the `challenger` alias of its model points at a second version, whose
 * shadow inferences run in the background (services/prediction/shadow.ts). The aim: p50 and p99
 * with a shadow within 10 % of without.
 */
import { PredictionService } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService as Registry } from '../gen/nepse/registry/v1/registry_pb.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { linearModel, registerRequests, registrationFor } from '../testing/models.js';
import type { LoadResult } from './load.js';
import type { PredictionRig } from './prediction.js';

/** Predict load without and with a shadow, at `concurrency`. */
export interface ShadowLoads {
  without: LoadResult;
  with: LoadResult;
}

/**
 * Measures Predict of `model` (width `features`) without, then with, a shadow challenger.
 * @param measure the Predict load of one process (bench/prediction.ts, measurePredict).
 */
export async function measureShadow(
  rig: PredictionRig,
  model: string,
  features: number,
  measure: (port: number, symbols: readonly string[], concurrency: number) => Promise<LoadResult>,
  concurrency = 16,
): Promise<ShadowLoads> {
  const service = await rig.startPrediction({});
  const registry = createGrpcClient(Registry, rig.env.NEPSE_REGISTRY_ADDR, { defaultTimeoutMs: 60_000 });
  const client = createGrpcClient(PredictionService, `127.0.0.1:${service.port}`);
  try {
    const without = await measure(service.port, rig.symbols, concurrency);
    const bytes = linearModel({
      width: features,
      weights: Array.from({ length: features }, (_, i) => 0.0001 * ((i % 5) - 2)),
      bias: 0.0002,
    });
    const { modelVersion } = await registry.registerModel(registerRequests(registrationFor(model, features), bytes));
    await registry.setAlias({ name: model, alias: 'challenger', version: modelVersion!.version, actor: 'bench', reason: 'shadow latency' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await client.predict({ symbol: rig.symbols[0], modelName: model, modelAlias: 'challenger' });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return { without, with: await measure(service.port, rig.symbols, concurrency) };
  } finally {
    client.close();
    registry.close();
    await service.stop();
  }
}
