import assert from 'node:assert/strict';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { linearModel } from '../../testing/models.js';
import {
  batchDependentModel,
  expectedLinear,
  nanOnNonZeroModel,
  openLinear,
  testDescription,
  testRows,
  TEST_WIDTH,
} from '../../testing/inference-models.js';
import { infer, ModelCache, modelLeases, ModelReleasedError, modelState, type LoadedModel } from './model-cache.js';
import { ModelLoadError, openModel } from './model-loader.js';

const close = (actual: ArrayLike<number>, expected: readonly number[], what: string) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) < 1e-5, `${what}: row ${i} is ${actual[i]}, expected ${expected[i]}`);
};

const loadFailure = async (bytes: Uint8Array, width = TEST_WIDTH): Promise<ModelLoadError> => {
  try {
    await openModel(bytes, testDescription('broken', 1, width));
  } catch (error) {
    assert.ok(error instanceof ModelLoadError, `a ModelLoadError, got ${error}`);
    return error;
  }
  assert.fail('the model loaded');
};

describe('openModel', () => {
  it('loads a linear model whose answers match x·w + b, one per row', async () => {
    const model = await openLinear('alpha', 3, 0.25);
    try {
      assert.deepEqual(
        [model.name, model.version, model.inputWidth, model.inputName, model.outputName],
        ['alpha', 3, TEST_WIDTH, 'features', 'log_return'],
      );
      assert.match(model.sha256, /^[0-9a-f]{64}$/);
      const rows = testRows(7);
      close(await infer(model, rows, 7), expectedLinear(rows, 0.25), 'batch of 7');
      await assert.rejects(infer(model, rows.subarray(0, 10), 1), RangeError);
    } finally {
      await model.session.release();
    }
  });

  it('refuses, with the step and reason, artifacts that cannot serve here', async () => {
    const garbage = await loadFailure(new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual([garbage.stage, garbage.transient], ['session', false]);
    assert.match(garbage.message, /^session: ONNX Runtime cannot load the artifact/);

    const narrow = await loadFailure(linearModel({ width: 24 }));
    assert.equal(narrow.stage, 'signature');
    assert.match(narrow.message, /24 features wide, but feature set ohlcv v1 has 25/);

    const renamed = await loadFailure(linearModel({ width: TEST_WIDTH, inputName: 'x' }));
    assert.match(renamed.message, /^signature: the model's input is "x", the registry says "features"/);

    // Finite on zeros (so the registry took it), NaN on a row of ones.
    const nan = await loadFailure(nanOnNonZeroModel());
    assert.equal(nan.stage, 'smoke_test');
    assert.match(nan.message, /^smoke test: the model answers NaN for row 1 of \[2, 25\]/);

    const coupled = await loadFailure(batchDependentModel());
    assert.equal(coupled.stage, 'smoke_test');
    assert.match(coupled.message, /rows must be answered independently/);
  });
});

describe('ModelCache', () => {
  const opened: LoadedModel[] = [];
  const open = async (name: string, version: number) => {
    const model = await openLinear(name, version, version / 10);
    opened.push(model);
    return model;
  };
  after(async () => {
    await Promise.all(opened.filter((m) => modelState(m) !== 'released').map((m) => m.session.release().catch(() => {})));
  });

  it('swaps versions, keeps the replaced one for pinned requests, and tells listeners', async () => {
    const cache = new ModelCache({ retainPrevious: 1, releaseGraceMs: 0 });
    const changes: string[] = [];
    const unsubscribe = cache.onChange((name, current) => changes.push(`${name}:${current?.version ?? '-'}`));
    assert.deepEqual(cache.servingNames(), []);
    assert.equal(cache.ready, false);
    cache.markReady();
    assert.equal(cache.ready, true);

    const [b1, a1, a2, a3] = [await open('beta', 1), await open('alpha', 1), await open('alpha', 2), await open('alpha', 3)];
    cache.activate(b1);
    assert.deepEqual(cache.servingNames(), ['beta']);
    cache.activate(a1);
    assert.deepEqual(cache.servingNames(), ['alpha', 'beta'], 'names in Production, sorted; no default chosen here');
    assert.equal(cache.current('beta'), b1);
    cache.activate(a1);
    cache.activate(a2);
    assert.deepEqual([cache.current('alpha'), cache.get('alpha', 1), cache.get('alpha', 2)], [a2, a1, a2]);
    cache.activate(a3);
    assert.equal(cache.get('alpha', 1), undefined, 'only one previous version is kept');
    assert.deepEqual(
      cache.list().map((m) => `${m.name}/${m.version}`),
      ['alpha/3', 'alpha/2', 'beta/1'],
    );
    assert.equal(modelState(a1), 'released');
    assert.equal(modelState(a2), 'serving');

    // Back to the retained version (a rollback), then the failed one unloaded.
    cache.activate(a2);
    cache.remove('alpha', 3);
    assert.deepEqual([cache.current('alpha')?.version, cache.get('alpha', 3)], [2, undefined]);
    cache.deactivate('beta');
    assert.equal(cache.current('beta'), undefined);
    assert.deepEqual(cache.servingNames(), ['alpha'], 'a withdrawn name is not serving');
    assert.equal(cache.get('beta', 1), b1, 'a deactivated version is retained like a replaced one');
    assert.deepEqual(changes, ['beta:1', 'alpha:1', 'alpha:2', 'alpha:3', 'alpha:2', 'beta:-']);
    unsubscribe();
    await cache.close();
    assert.ok([a2, a3, b1].every((m) => modelState(m) === 'released'));
    assert.deepEqual([cache.list(), cache.ready], [[], false]);
  });

  it('releases a replaced session only after its leases are returned and the grace has passed', async () => {
    const cache = new ModelCache({ retainPrevious: 0, releaseGraceMs: 100 });
    const [v1, v2] = [await open('gamma', 1), await open('gamma', 2)];
    cache.activate(v1);
    const lease = cache.acquire('gamma')!;
    assert.equal(lease.model, v1);
    assert.equal(modelLeases(v1), 1);
    cache.activate(v2);
    assert.equal(modelState(v1), 'retiring');
    // A caller that picked v1 up before the swap can still use it, lease or not, within the grace.
    const rows = testRows(2);
    close(await infer(v1, rows, 2), expectedLinear(rows, 0.1), 'v1 after the swap');
    await sleep(150);
    assert.equal(modelState(v1), 'retiring', 'the lease still holds it');
    lease.release();
    lease.release();
    assert.equal(modelLeases(v1), 0);
    await sleep(10);
    assert.equal(modelState(v1), 'released');
    await assert.rejects(infer(v1, rows, 2), ModelReleasedError);
    assert.equal(cache.acquire('gamma', 1), undefined);
    await cache.close();
  });

  /**
   * Swaps through seven versions while `callers` infer in a loop; answers are checked against the
   * version each call ran on. The hardest setting: nothing retained, no grace — a replaced session
   * goes as soon as its last inference ends.
   */
  const swapUnderLoad = async (
    name: string,
    callers: (run: (model: LoadedModel, count: number) => Promise<void>, cache: ModelCache, stopped: () => boolean) => Promise<void>[],
  ) => {
    const cache = new ModelCache({ retainPrevious: 0, releaseGraceMs: 0 });
    const versions = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((v) => open(name, v)));
    cache.activate(versions[0]);
    const rows = testRows(16, 7);
    const expected = new Map(versions.map((m) => [m.version, expectedLinear(rows, m.version / 10)]));
    const seen = new Map<number, number>();
    let failures = 0;
    let answers = 0;
    let stop = false;
    const run = async (model: LoadedModel, count: number) => {
      try {
        const out = await infer(model, rows.subarray(0, count * TEST_WIDTH), count);
        close(out, expected.get(model.version)!.slice(0, count), `${name}/${model.version}`);
        seen.set(model.version, (seen.get(model.version) ?? 0) + 1);
        answers++;
      } catch (error) {
        failures++;
        throw error;
      }
    };
    const load = callers(run, cache, () => stop);
    for (const next of versions.slice(1)) {
      await sleep(80);
      cache.activate(next);
    }
    await sleep(80);
    stop = true;
    await Promise.allSettled(load);

    assert.equal(failures, 0);
    assert.ok(answers > 300, `only ${answers} inferences ran`);
    assert.deepEqual([...seen.keys()].sort(), [1, 2, 3, 4, 5, 6, 7], 'every version answered while it was current');
    await sleep(5);
    assert.deepEqual(versions.map(modelState), ['released', 'released', 'released', 'released', 'released', 'released', 'serving']);
    await cache.close();
  };

  it('hot-swaps under continuous infer() calls with zero failed inferences, each answer from the version it ran on', async () => {
    await swapUnderLoad('delta', (run, cache, stopped) =>
      [1, 1, 4, 16].map(async (count) => {
        while (!stopped()) await run(cache.current('delta')!, count);
      }),
    );
  });

  it('hot-swaps under callers that hold a model across an event-loop turn, as the micro-batcher does', async () => {
    await swapUnderLoad('epsilon', (run, cache, stopped) =>
      [1, 8, 16].map(async (count) => {
        while (!stopped()) {
          const lease = cache.acquire('epsilon')!;
          try {
            await nextTurn();
            await run(lease.model, count);
          } finally {
            lease.release();
          }
        }
      }),
    );
  });
});
