import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MigrationError, sqlSnippet, StoreError, StoreUnavailableError } from './errors.js';
import { checkIdentifier, insertSettings, quoteDatabase, trimStatement } from './sql.js';

describe('sql helpers', () => {
  it('accepts plain database names only', () => {
    assert.equal(quoteDatabase('ingestion_1'), '`ingestion_1`');
    for (const bad of ['', '1abc', 'a-b', 'a`b', 'a.b']) assert.throws(() => quoteDatabase(bad), StoreError);
  });

  it('accepts table and column names on the whitelist', () => {
    assert.equal(checkIdentifier('db.bars', 'table'), 'db.bars');
    for (const bad of ['', 'a b', 'a;', 'a..b', '.a']) assert.throws(() => checkIdentifier(bad, 'table'), StoreError);
  });

  it('drops trailing semicolons and whitespace', () => {
    assert.equal(trimStatement('SELECT 1 ;\n '), 'SELECT 1');
  });

  it('raises the insert block size only for calls bigger than the default block', () => {
    assert.deepEqual(insertSettings(1000), {});
    assert.deepEqual(insertSettings(2_000_000), {
      max_insert_block_size: 2_000_000,
      min_insert_block_size_rows: 2_000_000,
      min_insert_block_size_bytes: 0,
    });
  });
});

describe('store errors', () => {
  it('carry a one-line, capped SQL snippet and the ClickHouse code', () => {
    const e = new StoreError('boom', { sql: `SELECT\n  ${'x, '.repeat(100)}1`, clickhouseCode: 62 });
    assert.equal(e.name, 'StoreError');
    assert.equal(e.clickhouseCode, 62);
    assert.ok(e.sql !== undefined && e.sql.length <= 160 && !e.sql.includes('\n'));
    assert.ok(e.message.startsWith('boom [sql: SELECT x, x,'));
    assert.equal(sqlSnippet('  a \n b  '), 'a b');
  });

  it('form a hierarchy callers can map: unavailable and migration errors are store errors', () => {
    const unavailable = new StoreUnavailableError('down');
    const migration = new MigrationError('001_x', 'bad');
    assert.ok(unavailable instanceof StoreError && unavailable.name === 'StoreUnavailableError');
    assert.ok(migration instanceof StoreError && migration.migrationId === '001_x');
    assert.match(migration.message, /migration "001_x" failed: bad/);
  });
});
