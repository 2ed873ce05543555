/**
 * `make soak`: mixed traffic through real services for SOAK_MINUTES (default 10) — Predict from
 * SOAK_CONCURRENCY workers (default 16), a CSV import every 10 s, a StreamPredictions and a
 * WatchPredictions stream held open, a training job every 3 minutes and a promotion through the
 * saga halfway — printing each minute every service's RSS, the errors, Predict's p99 and
 * monitoring's consumer lag, then a verdict against the aims:
 *
 * - 0 errors, of any kind of traffic;
 * - RSS flat after warm-up: each service grows less than 10 % from minutes 2–4 to the last three
 *   minutes (the median of each three);
 * - lag bounded: monitoring's lag stays under SOAK_MAX_LAG events (default 10,000) every minute and
 *   drains to 0 within 60 s once the traffic stops.
 *
 * Exits 1 when an aim is missed. Not part of `make test`.
 */
import { loadavg } from 'node:os';
import { metricValue } from '../testing/index.js';
import { rate } from './format.js';
import { runLoad } from './load.js';
import { SOAK_MODEL, SOAK_SERVICES, startSoakRig, Tally } from './soak-rig.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const MAX_LAG = Number(process.env.SOAK_MAX_LAG ?? 10_000);
/** Aim: RSS growth from minute 2 to the end, as a fraction. */
const MAX_RSS_GROWTH = 0.1;
if (!(Number.isInteger(MINUTES) && MINUTES >= 1 && CONCURRENCY >= 1)) {
  console.error('SOAK_MINUTES must be a whole number of minutes >= 1 and SOAK_CONCURRENCY >= 1');
  process.exit(2);
}

/** A gauge or counter summed over all its label sets on a /metrics page. */
async function metricSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** One minute's figures. */
interface Minute {
  predicts: number;
  p99Ms: number;
  errors: number;
  rssMb: Record<string, number>;
  lag: number;
  tally: Tally;
}

const percent = (fraction: number) => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)} %`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(
  `soak: ${MINUTES} min, Predict at concurrency ${CONCURRENCY}, load average ${load()} (the machine is shared; figures move with it)`,
);
const rig = await startSoakRig({ symbolCount: 30, historyDays: 250, soakDays: MINUTES * 6 + 1 });
const { network } = rig;
const port = (name: (typeof SOAK_SERVICES)[number]) => network.service(name).metricsPort!;
const lagOf = async () =>
  (await metricSum(port('monitoring'), 'nepse_events_consumer_pending')) +
  (await metricSum(port('monitoring'), 'nepse_events_consumer_ack_pending'));
let code = 1;
try {
  let tally = new Tally();
  const stop = new AbortController();
  const background = rig.background(() => tally, stop.signal, {
    trainEveryMinutes: 3,
    promoteAtMs: [Math.floor(MINUTES / 2) * 60_000 + 20_000],
  });
  const prediction = network.client('prediction');
  let n = 0;
  const minutes: Minute[] = [];
  const columns = [
    'min',
    'Predict/s',
    'p99 ms',
    'errors',
    'imports',
    'stream',
    'watched',
    'jobs',
    'promoted',
    ...SOAK_SERVICES.map((s) => `${s} MB`),
    'lag',
  ];
  console.log(columns.join('\t'));
  for (let m = 1; m <= MINUTES; m++) {
    const result = await runLoad({
      concurrency: CONCURRENCY,
      durationMs: 60_000,
      call: () => prediction.predict({ symbol: rig.symbols[n++ % rig.symbols.length], modelName: SOAK_MODEL }, { timeoutMs: 5_000 }),
    });
    const done = tally;
    tally = new Tally();
    if (result.firstError) done.failures.unshift(`Predict: ${(result.firstError as Error).message}`);
    const rssMb = Object.fromEntries(
      await Promise.all(
        SOAK_SERVICES.map(async (s) => [s, (await metricValue(port(s), 'process_resident_memory_bytes')) / 2 ** 20] as const),
      ),
    );
    const minute: Minute = {
      predicts: result.perSecond,
      p99Ms: result.p99Ms,
      errors: result.errors + done.errors,
      rssMb,
      lag: await lagOf(),
      tally: done,
    };
    minutes.push(minute);
    console.log(
      [
        m,
        rate(minute.predicts),
        minute.p99Ms.toFixed(1),
        minute.errors,
        done.imports,
        rate(done.streamAnswers),
        done.watched,
        done.jobs,
        done.promotions,
        ...SOAK_SERVICES.map((s) => rssMb[s].toFixed(0)),
        minute.lag,
      ].join('\t'),
    );
    for (const failure of done.failures) console.log(`  ${failure}`);
  }
  stop.abort();
  await background;
  // The traffic has stopped: monitoring must work off what is left.
  const drainStart = Date.now();
  let lag = await lagOf();
  while (lag > 0 && Date.now() - drainStart < 60_000) {
    await new Promise((r) => setTimeout(r, 1_000));
    lag = await lagOf();
  }
  const drainedS = (Date.now() - drainStart) / 1000;

  const errors = minutes.reduce((s, m) => s + m.errors, 0);
  // RSS moves by several per cent from one minute to the next (an embedded ClickHouse merging parts,
  // a training job running or not), so each end of the span is the median of three readings:
  // minutes 2–4 after the warm-up, and the last three minutes. The single readings of minute 2 and
  // the last minute are printed beside it.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const start = minutes.slice(1, 4);
  const end = minutes.slice(Math.max(1, minutes.length - 3));
  const growth = SOAK_SERVICES.map((s) => {
    const from = median(start.map((m) => m.rssMb[s]));
    const to = median(end.map((m) => m.rssMb[s]));
    const single = (minutes.at(-1)!.rssMb[s] - start[0]!.rssMb[s]) / start[0]!.rssMb[s];
    return [s, (to - from) / from, single] as const;
  });
  const maxLag = Math.max(...minutes.map((m) => m.lag));
  const aims = [
    { aim: '0 errors', met: errors === 0, figure: `${errors} errors` },
    {
      aim: `RSS flat after warm-up (< ${MAX_RSS_GROWTH * 100} % from minutes 2–4 to the last three, medians; minute 2 → ${minutes.length} in brackets)`,
      met: minutes.length >= 2 && growth.every(([, g]) => g < MAX_RSS_GROWTH),
      figure:
        minutes.length >= 2
          ? growth.map(([s, g, single]) => `${s} ${percent(g)} (${percent(single)})`).join(', ')
          : 'needs 2 minutes or more',
    },
    {
      aim: `lag bounded (< ${rate(MAX_LAG)} every minute, 0 within 60 s of the end)`,
      met: maxLag < MAX_LAG && lag === 0,
      figure: `peak ${rate(maxLag)}, ${lag} left after ${drainedS.toFixed(0)} s`,
    },
  ];
  console.log(`\nverdict (load average ${load()}):`);
  for (const a of aims) console.log(`  ${a.met ? 'met   ' : 'MISSED'} ${a.aim}: ${a.figure}`);
  console.log(
    `  Predict: ${rate(minutes.reduce((s, m) => s + m.predicts, 0) / minutes.length)}/s on average, p99 ${minutes.map((m) => m.p99Ms.toFixed(0)).join(' / ')} ms by minute`,
  );
  code = aims.every((a) => a.met) ? 0 : 1;
} finally {
  await network.close();
}
process.exit(code);
