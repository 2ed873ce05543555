import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { databaseContract, uniqueSchema } from './database-contract.js';
import { DatabaseUnavailableError } from './errors.js';
import { openDatabase } from './open-database.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nepse-pglite-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pglite database', () => {
  databaseContract(() => openDatabase({ schema: uniqueSchema() }));
});

describe('pglite data folder', () => {
  it('keeps data across a reopen of the same folder', async () => {
    const dataDir = join(dir, 'keep');
    const first = await openDatabase({ dataDir, schema: 'registry' });
    assert.equal(first.driver, 'pglite');
    await first.query('CREATE TABLE kept (x int)');
    await first.query('INSERT INTO kept VALUES (7)');
    await first.close();
    const again = await openDatabase({ dataDir, schema: 'registry' });
    try {
      assert.deepEqual(await again.query('SELECT x FROM kept'), [{ x: 7 }]);
    } finally {
      await again.close();
    }
  });

  it('refuses a folder already open, and takes over a lock left by a dead process', async () => {
    const dataDir = join(dir, 'locked');
    const db = await openDatabase({ dataDir });
    try {
      await assert.rejects(
        openDatabase({ dataDir }),
        (e: unknown) => e instanceof DatabaseUnavailableError && /already open in this process/.test(e.message),
      );
    } finally {
      await db.close();
    }
    // A process that has exited leaves its pid behind.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    await writeFile(`${dataDir}.lock`, dead);
    const reopened = await openDatabase({ dataDir });
    await reopened.close();
  });

  it('takes over a lock naming its own pid that it did not take: a restarted container is PID 1 again', async () => {
    const dataDir = join(dir, 'restarted');
    await (await openDatabase({ dataDir })).close();
    await writeFile(`${dataDir}.lock`, String(process.pid));
    const reopened = await openDatabase({ dataDir });
    await reopened.close();
  });

  it('refuses an invalid schema name before touching anything', async () => {
    await assert.rejects(openDatabase({ schema: 'Robert; DROP' }), /invalid schema name/);
  });
});
