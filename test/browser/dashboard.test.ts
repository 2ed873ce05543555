/**
 * The dashboard in headless Chromium (Debian's package, driven by playwright-core) against the
 * real gateway and the real services (test/browser/mesh-bed.ts): the page asks for a key and loads
 * with it, the chart draws a symbol's candles, a bar ingested during the test makes a new
 * prediction appear on the page without a reload, and the alert it causes appears too; past
 * predictions are drawn against the actual closes and the live error against no change charted,
 * as monitoring scored them, both growing as sessions arrive and both there again after a reload.
 *
 * Screenshots go to a temporary folder (printed). `SCREENSHOT=docs/dashboard.png` also writes the
 * final view there: that is how the README's image is refreshed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { waitFor } from '../../lib/events/testing.js';
import { ROOT } from '../../lib/runtime/service-process.js';
import { buildDashboard } from '../../web/build.js';
import { MODEL, RULE, startDashboardBed, type DashboardBed } from './mesh-bed.js';

const CHROMIUM = '/usr/bin/chromium';
/** Without the background-networking flags Chromium's own outgoing connections are refused here, many at a time. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Longest wait for anything the page should show, in ms. */
const SHOW_MS = 20_000;

describe('the dashboard in Chromium', { timeout: 180_000 }, () => {
  let bed: DashboardBed;
  let browser: Browser;
  let page: Page;
  let work = '';
  let shot = 0;
  const consoleErrors: string[] = [];
  const screenshot = async (name: string) => {
    const file = join(work, `${String(++shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file });
    return file;
  };
  const data = (selector: string, name: string) => page.locator(selector).getAttribute(`data-${name}`);
  /** Waits until a data attribute of the element holds a number of at least `min`. */
  const atLeast = (selector: string, name: string, min: number) =>
    waitFor(async () => Number(await data(selector, name)) >= min, `${selector} data-${name} >= ${min}`, {
      timeoutMs: SHOW_MS,
      intervalMs: 100,
    });

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make chromium installs Debian's package`);
    work = await mkdtemp(join(tmpdir(), 'nepse-dashboard-shots-'));
    const webDir = join(work, 'web');
    // The page under test is built from this checkout's web/src, whatever web/dist holds.
    await buildDashboard(webDir);
    bed = await startDashboardBed({ webDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 30_000 });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.setDefaultTimeout(SHOW_MS);
    // The 401 of the first call, before the key is entered, is the browser's own log line, not the page's.
    page.on('console', (m) => m.type() === 'error' && !m.text().includes('status of 401') && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    console.log(`screenshots in ${work}`);
  });

  after(async () => {
    await browser?.close();
    await bed?.stop();
  });

  it('asks for an API key, keeps it, and loads with it', async () => {
    await page.goto(bed.url);
    await page.locator('#key-dialog[open]').waitFor();
    await screenshot('key');
    await page.fill('#key-dialog input[name=key]', bed.apiKey);
    await page.click('#key-dialog button[type=submit]');
    await page.locator('body[data-state=ready]').waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('nepse.apiKey')), bed.apiKey);
    await page.locator('#whoami', { hasText: 'dashboard-test' }).waitFor();
    assert.match(await page.locator('#whoami').innerText(), /dashboard-test · viewer/);
    // The list holds every symbol, and the search narrows it.
    assert.equal(await data('#symbols', 'count'), String(bed.symbols.length));
    await page.fill('#symbols input[type=search]', bed.symbols[1].slice(0, 3));
    assert.ok(Number(await data('#symbols', 'shown')) < bed.symbols.length, 'the search hides symbols that do not match');
    await page.fill('#symbols input[type=search]', '');
  });

  it('draws the candles of a symbol, and those of another one chosen in the list', async () => {
    // The list is in ascending order and the page opens on its first symbol.
    const [first, second] = [...bed.symbols].sort();
    await page.locator(`#chart[data-symbol=${first}][data-candles="${bed.bars.get(first)!.length}"]`).waitFor();
    assert.equal(await data('#chart', 'symbol'), first);
    assert.ok((await page.locator('#chart canvas').count()) > 0, 'lightweight-charts drew on a canvas');
    await page.click(`#symbols li[data-symbol=${second}]`);
    await page.locator(`#chart[data-symbol=${second}][data-candles="${bed.bars.get(second)!.length}"]`).waitFor();
    assert.match(await page.locator('#chart-legend').innerText(), new RegExp(`${second}.*next close`, 's'));
    assert.equal(await data('#model', 'model'), 'nepse-linear@1');
    await screenshot('chart');
  });

  it('shows the prediction of a bar ingested now without a reload, and the alert it raises', async () => {
    const symbol = [...bed.symbols].sort()[1];
    await page.evaluate('window.notReloaded = true');
    const candles = Number(await data('#chart', 'candles'));
    const [bar] = await bed.addBars([symbol, ...bed.symbols.filter((s) => s !== symbol)]);
    // WatchPredictions brings the prediction made from the new bar's features...
    await page.locator(`#feed li[data-symbol=${symbol}][data-feature-date="${bar.date}"]`).waitFor();
    // ...and the chart gains the candle and marks the close predicted for the session after it.
    await page.locator(`#chart[data-candles="${candles + 1}"]`).waitFor();
    assert.notEqual(await data('#chart', 'next-close'), '');
    // The new bar scores the prediction made before it: monitoring's rule fires and WatchAlerts brings it.
    await page.locator(`#alerts li[data-rule=${RULE}]`).first().waitFor();
    assert.ok(Number(await data('#alerts', 'firing')) >= 1);
    assert.equal(await page.evaluate('window.notReloaded'), true, 'the page was not reloaded');
    await screenshot('live');
  });

  it('reports each service of the mesh', async () => {
    await page.locator('#mesh tr[data-component=prediction]').waitFor();
    const names = await page.locator('#mesh tr[data-component]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-component')));
    for (const name of ['ingestion', 'feature', 'registry', 'training', 'prediction', 'monitoring'])
      assert.ok(names.includes(name), `${name} is listed`);
  });

  it('keeps drawing predictions against the actual closes and the live error as sessions arrive', async () => {
    const symbol = [...bed.symbols].sort()[1];
    const [bar] = await bed.addBars([symbol, ...bed.symbols.filter((s) => s !== symbol)]);
    await page.locator(`#feed li[data-symbol=${symbol}][data-feature-date="${bar.date}"]`).waitFor();
    await atLeast('#chart', 'predictions', 3);
    // Scores come only from monitoring: the two predictions whose next bars came during the test.
    await atLeast('#chart', 'scored', 2);
    // One point per scored session, from GetErrorSeries.
    await atLeast('#model', 'live-points', 2);
    await screenshot('live-history');
  });

  it('draws the past predictions and the live error from monitoring again after a reload', async () => {
    const symbol = [...bed.symbols].sort()[1];
    // What monitoring holds, through the gateway over Connect JSON with the page's viewer key.
    const post = async (method: string, body: unknown) => {
      const response = await fetch(`${bed.url}/nepse.monitoring.v1.MonitoringService/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bed.apiKey}` },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, `${method}: ${await response.clone().text()}`);
      return response.json();
    };
    const { predictions } = (await post('ListScoredPredictions', { symbol, modelName: MODEL })) as { predictions: { scored?: boolean }[] };
    const scored = predictions.filter((p) => p.scored).length;
    assert.ok(predictions.length >= 3 && scored >= 2, `monitoring holds ${predictions.length} predictions of ${symbol}, ${scored} scored`);
    const { points } = (await post('GetErrorSeries', { modelName: MODEL, modelVersion: 1, rollingDays: 5 })) as { points: unknown[] };

    // The page knew only the latest prediction of each symbol before it watched: the rest is history.
    await page.reload();
    await page.locator('body[data-state=ready]').waitFor();
    await page.locator(`#chart[data-symbol=${symbol}][data-history="${predictions.length}"][data-scored="${scored}"]`).waitFor();
    assert.equal(await data('#model', 'live-points'), String(points.length));
    assert.ok(Number(await data('#chart', 'predictions')) >= 3, 'the predicted closes are drawn beside the candles');
    assert.match(await page.locator('#chart-legend').innerText(), new RegExp(`${scored} scored · MAE`));
    const file = await screenshot('dashboard');
    if (process.env.SCREENSHOT) await page.screenshot({ path: resolve(ROOT, process.env.SCREENSHOT) });
    assert.deepEqual(consoleErrors, [], 'no errors in the page');
    console.log(`final view: ${file}`);
  });
});
