import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { EventConfigError, EventDecodeError, EventKeyError, EventNameError } from './errors.js';
import {
  deadLetterSubject,
  decodeEvent,
  defineEvent,
  eventFilterSubjects,
  eventSubject,
  keyOfSubject,
  normaliseKey,
} from './event-type.js';

const barsIngested = defineEvent({ name: 'bars.ingested', schema: StringValueSchema });

describe('defineEvent', () => {
  it('fixes the subject prefix', () => {
    assert.equal(barsIngested.name, 'bars.ingested');
    assert.equal(barsIngested.subjectPrefix, 'nepse.v1.bars.ingested');
    assert.ok(Object.isFrozen(barsIngested));
  });

  it('rejects names that would break subjects', () => {
    for (const name of ['', 'Bars.Ingested', 'bars..ingested', 'bars.*', 'bars.>', 'bars ingested', '.bars', 'bars.']) {
      assert.throws(() => defineEvent({ name, schema: StringValueSchema }), EventNameError, name);
    }
  });
});

describe('keys and subjects', () => {
  it('normalises keys to upper case', () => {
    assert.equal(normaliseKey(' nabil '), 'NABIL');
    assert.equal(normaliseKey('_'), '_');
    assert.equal(normaliseKey('NIFRA-P'), 'NIFRA-P');
    assert.equal(eventSubject(barsIngested, 'nica'), 'nepse.v1.bars.ingested.NICA');
  });

  it('rejects keys that are not one subject token', () => {
    for (const key of ['', '  ', 'BRK.B', 'A*', 'A>', '>', 'NA BIL', 'A\tB', 'X'.repeat(65), 'ÄBC', '-AB']) {
      assert.throws(() => normaliseKey(key), EventKeyError, JSON.stringify(key));
    }
    assert.throws(() => normaliseKey(42 as unknown as string), EventKeyError);
  });

  it('builds filters, reads keys back and names dead-letter subjects', () => {
    assert.deepEqual(eventFilterSubjects(barsIngested), ['nepse.v1.bars.ingested.*']);
    assert.deepEqual(eventFilterSubjects(barsIngested, ['nabil', 'NABIL', 'nica']), [
      'nepse.v1.bars.ingested.NABIL',
      'nepse.v1.bars.ingested.NICA',
    ]);
    assert.equal(keyOfSubject(barsIngested, 'nepse.v1.bars.ingested.NABIL'), 'NABIL');
    assert.equal(keyOfSubject(barsIngested, 'nepse.v1.bars.other.NABIL'), undefined);
    assert.equal(keyOfSubject(barsIngested, 'nepse.v1.bars.ingested.A.B'), undefined);
    assert.equal(deadLetterSubject('feature', barsIngested), 'nepse.dlq.feature.bars.ingested');
    assert.throws(() => deadLetterSubject('bad.durable', barsIngested), EventConfigError);
  });
});

describe('decodeEvent', () => {
  it('decodes the schema and flags garbage as EventDecodeError', () => {
    const bytes = toBinary(StringValueSchema, create(StringValueSchema, { value: 'x' }));
    assert.equal(decodeEvent(barsIngested, bytes).value, 'x');
    assert.throws(() => decodeEvent(barsIngested, new Uint8Array([0x0a, 0x05, 0x41])), EventDecodeError);
  });
});
