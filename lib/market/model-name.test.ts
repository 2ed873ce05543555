import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isModelName, MODEL_NAME_PATTERN } from './model-name.js';

describe('model names', () => {
  it('accepts what the contracts allow and nothing else', () => {
    for (const name of ['nepse-ridge', 'champion', 'a', 'gbrt_v2', `a${'b'.repeat(62)}`]) assert.ok(isModelName(name), name);
    for (const name of ['', 'Nepse', '1ridge', '-x', 'a.b', 'a b', `a${'b'.repeat(63)}`, 'ridge\n'])
      assert.ok(!isModelName(name), JSON.stringify(name));
    assert.equal(MODEL_NAME_PATTERN.source, '^[a-z][a-z0-9_-]{0,62}$', 'the rule registry.proto states');
  });
});
