/**
 * The dashboard's wiring: who the caller is (asking for a key when the gateway wants one), the
 * symbol list, the selected symbol's chart and model figures, and the three live feeds —
 * predictions, alerts and the mesh's health — all through the gateway with the generated clients.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { Role, Section, type GetDashboardResponse } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { PerformanceReport } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { Stage, type ModelVersion } from '../../gen/nepse/registry/v1/registry_pb.js';
import { AlertsPanel } from './alerts-panel.js';
import { createApi, describeError, needsKey, saveKey, storedKey } from './api.js';
import { ChartPanel } from './chart-panel.js';
import { FeedPanel } from './feed-panel.js';
import { follow, type StreamState } from './follow.js';
import { dayOf } from './format.js';
import { askForKey } from './key-dialog.js';
import { MeshPanel } from './mesh-panel.js';
import { ModelPanel } from './model-panel.js';
import { SymbolsPanel } from './symbols-panel.js';

/** How often the mesh's health is read again, in ms. */
const MESH_INTERVAL_MS = 10_000;
/** Symbols the list holds at most (pages of the dashboard read). */
const MAX_SYMBOLS = 2000;
/** Past predictions the chart reads for a symbol: one page, the newest (about four years of sessions). */
const HISTORY_PREDICTIONS = 1000;
/** Scored days each point of the live error chart averages over. */
const ERROR_ROLLING_DAYS = 5;
/**
 * How often the selected symbol's scored predictions and the error series are read again, in ms:
 * a prediction is scored when the next bar reaches monitoring, which no stream tells the page.
 */
const HISTORY_INTERVAL_MS = 10_000;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const api = createApi(storedKey);
const symbols = new SymbolsPanel($('#symbols'), (symbol) => void select(symbol));
const chart = new ChartPanel($('#chart'), $('#chart-legend'));
const model = new ModelPanel($('#model'));
const alerts = new AlertsPanel($('#alerts'));
const feed = new FeedPanel($('#feed'), (symbol) => void select(symbol));
const mesh = new MeshPanel($('#mesh'));

/** Predictions seen on this page, by symbol: what the chart draws against the actual closes. */
const seen = new Map<string, Map<string, Prediction>>();
let productionModels: ModelVersion[] = [];
let selected = '';
/** The model whose past predictions the chart draws, and the serving version whose error is charted. */
let shownModel = '';
let shownVersion: ModelVersion | undefined;
let overviewRun = 0;

function remember(p: Prediction | undefined): void {
  if (!p) return;
  const bySymbol = seen.get(p.symbol) ?? new Map<string, Prediction>();
  bySymbol.set(dayOf(p.featureDate), p);
  seen.set(p.symbol, bySymbol);
}

function banner(text: string): void {
  const node = $('#banner');
  node.textContent = text;
  node.hidden = !text;
}

/** Runs `call`; on UNAUTHENTICATED asks for a key and runs it again. */
async function withKey<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!needsKey(error)) throw error;
      const had = storedKey();
      saveKey('');
      await askForKey(
        had
          ? 'The gateway refused the saved key. Enter another one.'
          : 'This gateway needs an API key (make dev prints one and writes it to .data/gateway/dev-api-key).',
      );
    }
  }
}

async function identify(): Promise<void> {
  const who = $('#whoami');
  try {
    const me = await withKey(() => api.gateway.whoAmI({}));
    const role = Role[me.role]?.toLowerCase();
    who.textContent = `${me.principal}${me.role ? ` · ${role}` : ''}`;
    who.title = me.keyId ? `key ${me.keyId}` : '';
  } catch (error) {
    who.textContent = error instanceof ConnectError && error.code === Code.Unimplemented ? 'anonymous' : 'identity unknown';
  }
}

async function loadDashboard(): Promise<void> {
  let token = '';
  let first: GetDashboardResponse | undefined;
  const all: GetDashboardResponse['symbols'] = [];
  do {
    const page = await withKey(() => api.gateway.getDashboard({ pageSize: 1000, pageToken: token }));
    first ??= page;
    all.push(...page.symbols);
    token = page.nextPageToken;
  } while (token && all.length < MAX_SYMBOLS);
  for (const s of all) remember(s.latestPrediction);
  symbols.show(all);
  productionModels = first?.productionModels ?? [];
  for (const a of first?.firingAlerts ?? []) alerts.add(a);
  if (first?.unavailableSections.length)
    banner(`Some parts of the mesh did not answer: ${first.unavailableSections.length} section(s) left out.`);
}

/** Shows a symbol: its bars, predictions and the serving model's figures. */
async function select(symbol: string): Promise<void> {
  if (!symbol) return;
  selected = symbol;
  symbols.select(symbol);
  if (location.hash !== `#${symbol}`) history.replaceState(null, '', `#${symbol}`);
  await refreshOverview();
}

async function refreshOverview(): Promise<void> {
  const symbol = selected;
  const run = ++overviewRun;
  try {
    const overview = await withKey(() => api.gateway.getSymbolOverview({ symbol }));
    if (run !== overviewRun) return; // a newer selection or refresh took over
    remember(overview.latestPrediction);
    // A section whose service did not answer in time keeps what the page already shows.
    const missing = new Set(overview.unavailableSections);
    chart.show(symbol, missing.has(Section.BARS) ? undefined : overview.bars, [...(seen.get(symbol)?.values() ?? [])]);
    banner(
      missing.size
        ? `Part of ${symbol} could not be read in time (${[...missing].map((m) => Section[m].toLowerCase()).join(', ')}); showing what was there.`
        : '',
    );
    const p = overview.latestPrediction;
    const serving =
      productionModels.find((m) => m.name === p?.modelName && m.version === p?.modelVersion) ??
      (p ? await servingModel(p.modelName, p.modelVersion) : productionModels[0]);
    shownModel = serving?.name ?? p?.modelName ?? '';
    shownVersion = serving;
    const report = serving ? await modelReport(serving, overview.performance) : overview.performance;
    if (run !== overviewRun) return;
    model.show(serving, report);
    // After model.show: the error chart takes only the series of the model it shows.
    await refreshHistory();
    document.body.dataset.state = 'ready';
  } catch (error) {
    banner(`Could not load ${symbol}: ${describeError(error)}`);
  }
}

async function servingModel(name: string, version: number): Promise<ModelVersion | undefined> {
  try {
    const found = (await api.registry.getModel({ name, selector: { case: 'version', value: version } })).modelVersion;
    if (found && found.stage === Stage.PRODUCTION && !productionModels.some((m) => m.name === name)) productionModels.push(found);
    return found;
  } catch {
    return undefined;
  }
}

/** The model's live report over every symbol; the symbol's own report when that cannot be read. */
async function modelReport(m: ModelVersion, fallback: PerformanceReport | undefined): Promise<PerformanceReport | undefined> {
  try {
    return (await api.monitoring.getModelPerformance({ modelName: m.name, modelVersion: m.version })).report ?? fallback;
  } catch {
    return fallback;
  }
}

/**
 * Reads the selected symbol's past predictions by the shown model's name (every version) as
 * monitoring scored them, and the serving version's live error over time beside no change. What
 * cannot be read leaves the charts as drawn (model.show clears the error chart on a new model).
 */
async function refreshHistory(): Promise<void> {
  const symbol = selected;
  const version = shownVersion;
  if (!symbol) return;
  const [history, errors] = await Promise.all([
    api.monitoring.listScoredPredictions({ symbol, modelName: shownModel, pageSize: HISTORY_PREDICTIONS }).then(
      (r) => r.predictions,
      () => undefined,
    ),
    version
      ? api.monitoring
          .getErrorSeries({ modelName: version.name, modelVersion: version.version, rollingDays: ERROR_ROLLING_DAYS })
          .catch(() => undefined)
      : undefined,
  ]);
  if (history) chart.showHistory(symbol, history);
  if (errors) model.showErrors(errors);
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
/** A refresh of the selected symbol soon, coalescing a burst of predictions into one. */
function refreshSoon(): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshOverview(), 300);
}

function streamState(state: StreamState): void {
  if (state.state === 'open') feed.status('live', true);
  else if (state.state === 'retrying') feed.status(`reconnecting in ${Math.round(state.inMs / 1000)} s`, false);
  else void askForKey('The gateway needs an API key for live updates.').then(() => location.reload());
}

function startStreams(): void {
  const watched = symbols.symbols().slice(0, 1000);
  if (watched.length) {
    follow(
      (signal) => api.prediction.watchPredictions({ symbols: watched, includeCurrent: false }, { signal }),
      (message) => {
        if (message.kind.case !== 'prediction') return;
        const p = message.kind.value;
        remember(p);
        feed.add(p);
        symbols.predicted(p);
        if (p.symbol === selected) refreshSoon();
      },
      streamState,
    );
  }
  follow(
    (signal) => api.monitoring.watchAlerts({ includeFiring: true }, { signal }),
    (message) => {
      if (message.kind.case === 'alert') alerts.add(message.kind.value);
    },
    (state) => state.state === 'retrying' && console.warn(`alerts stream: ${state.error}`),
  );
  const readMesh = async () => {
    try {
      mesh.show(await api.gateway.getMeshStatus({}));
    } catch (error) {
      mesh.failed(describeError(error));
    }
  };
  void readMesh();
  setInterval(readMesh, MESH_INTERVAL_MS);
  setInterval(() => void refreshHistory(), HISTORY_INTERVAL_MS);
}

$('#change-key').addEventListener('click', () => void askForKey('Enter the API key to use.').then(() => location.reload()));

await identify();
try {
  await loadDashboard();
} catch (error) {
  banner(`Could not load the dashboard: ${describeError(error)}`);
}
await select(decodeURIComponent(location.hash.slice(1)).toUpperCase() || symbols.symbols()[0] || '');
if (!selected) document.body.dataset.state = 'ready';
startStreams();
