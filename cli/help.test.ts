import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helpText } from './command.js';
import { COMMANDS } from './commands/index.js';
import { importProgress } from './progress.js';

/** Commands that print a list of things; each takes --json. */
const LISTINGS = ['symbols', 'bars', 'jobs', 'models', 'history', 'predict', 'watch', 'performance', 'alerts'];

describe('nepse help', () => {
  for (const [name, command] of Object.entries(COMMANDS)) {
    it(`${name} --help says what it does and gives every option an example`, () => {
      const text = helpText(name, command);
      assert.ok(command.summary.length > 20, name);
      for (const option of Object.keys(command.options ?? {})) {
        assert.match(command.optionHelp?.[option] ?? '', new RegExp(`e\\.g\\. .*--${option}\\b`), `${name} --${option}`);
        assert.match(text, new RegExp(`^  --${option}\\b`, 'm'), `${name} --${option}`);
        assert.match(command.usage, new RegExp(`--${option}\\b`), `${name} usage names --${option}`);
      }
    });
  }

  it('every listing takes --json', () => {
    for (const name of LISTINGS) assert.equal(COMMANDS[name].options?.json?.type, 'boolean', name);
  });
});

describe('import progress', () => {
  const MIB = 1024 * 1024;
  const chunk = (bytes: number, rows: number) => {
    const data = new Uint8Array(bytes).fill(0x41);
    for (let i = 0; i < rows; i++) data[Math.floor(((i + 1) * bytes) / rows) - 1] = 0x0a;
    return data;
  };

  it('writes a line every N MB when stderr is not a terminal, and the total at the end', () => {
    const out: string[] = [];
    const progress = importProgress({ totalBytes: 5 * MIB, tty: false, everyBytes: 2 * MIB, write: (t) => out.push(t) });
    for (let i = 0; i < 10; i++) progress.sent(chunk(MIB / 2, 100));
    progress.done();
    assert.deepEqual(out, [
      'sent 2.0 MB of 5.0 MB (40 %), 400 rows\n',
      'sent 4.0 MB of 5.0 MB (80 %), 800 rows\n',
      'sent 5.0 MB of 5.0 MB (100 %), 1,000 rows\n',
    ]);
  });

  it('rewrites one line on a terminal, at most every redraw interval', () => {
    const out: string[] = [];
    let clock = 0;
    const progress = importProgress({ totalBytes: 2 * MIB, tty: true, redrawMs: 100, now: () => clock, write: (t) => out.push(t) });
    for (let i = 0; i < 4; i++) {
      progress.sent(chunk(MIB / 2, 10));
      clock += 60;
    }
    progress.done();
    assert.ok(out.every((t) => t.startsWith('\r\x1b[K')));
    assert.equal(out.length, 4); // drawn at 0 ms and 120 ms, at the last byte, then the final line
    assert.equal(out.at(-1), '\r\x1b[Ksent 2.0 MB of 2.0 MB (100 %), 40 rows\n');
  });

  it('shows nothing for small files or when quiet', () => {
    const out: string[] = [];
    const progress = importProgress({ totalBytes: 1000, tty: true, write: (t) => out.push(t) });
    progress.sent(chunk(1000, 3));
    progress.done();
    assert.deepEqual(out, []);
  });
});
