import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import { addressEnv, ConfigError, readAddress, readConfig, resetAddressWarnings, withAddressFallbacks } from './index.js';

/** A config as a service declares one: it dials the feature service and the registry. */
const schema = z.object({ ...addressEnv('feature', 'registry'), OTHER: z.string().default('x') });
const read = (env: NodeJS.ProcessEnv, warn: (message: string) => void) =>
  readConfig(schema, withAddressFallbacks(env, ['feature', 'registry'], warn));

describe('service addresses', () => {
  let warnings: string[];
  const warn = (message: string) => void warnings.push(message);
  beforeEach(() => {
    warnings = [];
    resetAddressWarnings();
  });

  it('read NEPSE_<SERVICE>_ADDR, defaulting to the local port, with no warning', () => {
    const config = read({ NEPSE_FEATURE_ADDR: 'feature:50052' }, warn);
    assert.equal(config.NEPSE_FEATURE_ADDR, 'feature:50052');
    assert.equal(config.NEPSE_REGISTRY_ADDR, '127.0.0.1:50054');
    assert.deepEqual(warnings, []);
    assert.equal(readAddress('prediction', { NEPSE_PREDICTION_ADDR: '[::1]:7000' }, warn), '[::1]:7000');
  });

  it('prefer the new name when both are set, saying the old one is ignored', () => {
    const config = read({ NEPSE_REGISTRY_ADDR: 'new-host:1', REGISTRY_ADDR: 'old-host:2' }, warn);
    assert.equal(config.NEPSE_REGISTRY_ADDR, 'new-host:1');
    assert.deepEqual(warnings, ['REGISTRY_ADDR is ignored: NEPSE_REGISTRY_ADDR is set; drop REGISTRY_ADDR']);
  });

  it('accept the deprecated <SERVICE>_ADDR, warning once however often the config is read', () => {
    const env = { FEATURE_ADDR: '10.0.0.5:50052' };
    assert.equal(read(env, warn).NEPSE_FEATURE_ADDR, '10.0.0.5:50052');
    assert.equal(read(env, warn).NEPSE_FEATURE_ADDR, '10.0.0.5:50052');
    assert.equal(readAddress('feature', env, warn), '10.0.0.5:50052');
    assert.deepEqual(warnings, ['FEATURE_ADDR is deprecated: set NEPSE_FEATURE_ADDR instead']);
  });

  it('warn only of the services a config dials', () => {
    read({ MONITORING_ADDR: '127.0.0.1:1' }, warn);
    assert.deepEqual(warnings, []);
  });

  it('refuse a value that is not host:port, naming the variable', () => {
    for (const bad of ['feature', 'feature:', ':50052', 'feature:99999', 'feature:0', 'http://feature:50052', 'a b:1']) {
      assert.throws(
        () => read({ NEPSE_FEATURE_ADDR: bad }, warn),
        (error: unknown) => error instanceof ConfigError && /NEPSE_FEATURE_ADDR: expected host:port/.test(error.message),
        bad,
      );
      assert.throws(() => readAddress('feature', { NEPSE_FEATURE_ADDR: bad }, warn), /NEPSE_FEATURE_ADDR: expected host:port/, bad);
    }
    // A bad value under the old name is refused under the name the config knows it by, the new one.
    assert.throws(() => read({ REGISTRY_ADDR: 'registry' }, warn), /NEPSE_REGISTRY_ADDR: expected host:port/);
  });
});
