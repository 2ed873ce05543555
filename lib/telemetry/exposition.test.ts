import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { ExpositionParseError, familyNameOf, parseExposition, parseValue } from './exposition.js';

describe('parseExposition', () => {
  it('reads HELP, TYPE and samples with labels, timestamps and special values', () => {
    const { families, samples } = parseExposition(
      [
        '# HELP http_requests_total Requests served.\\nSecond line with a \\\\ backslash.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400",} 3',
        '# a free comment',
        '',
        '# TYPE temperature gauge',
        'temperature -Inf',
        'temperature{room="a"} +Inf',
        'temperature{room="b"} NaN',
        'temperature{room="c"} 1.5e-3',
        'no_type_at_all 42',
      ].join('\n'),
    );
    const requests = families.get('http_requests_total')!;
    assert.equal(requests.type, 'counter');
    assert.equal(requests.help, 'Requests served.\nSecond line with a \\ backslash.');
    assert.deepEqual(requests.samples[0], {
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
      timestampMs: 1395066363000,
    });
    assert.deepEqual(requests.samples[1].labels, { method: 'post', code: '400' }, 'a trailing comma is allowed');
    const temperature = families.get('temperature')!.samples.map((s) => s.value);
    assert.equal(temperature[0], -Infinity);
    assert.equal(temperature[1], Infinity);
    assert.ok(Number.isNaN(temperature[2]));
    assert.equal(temperature[3], 0.0015);
    assert.equal(families.get('no_type_at_all')!.type, 'untyped');
    assert.equal(samples.length, 7);
  });

  it('unescapes label values: quote, backslash, newline; keeps commas and braces inside quotes', () => {
    const { samples } = parseExposition('m{path="C:\\\\dir\\\\file",msg="say \\"hi\\"\\nbye",odd="a,b}{c= d"} 1\n');
    assert.deepEqual(samples[0].labels, { path: 'C:\\dir\\file', msg: 'say "hi"\nbye', odd: 'a,b}{c= d' });
  });

  it('groups _bucket, _sum and _count under their histogram and summary families', () => {
    const { families } = parseExposition(
      [
        '# TYPE rpc_seconds histogram',
        'rpc_seconds_bucket{method="a",le="0.1"} 1',
        'rpc_seconds_bucket{method="a",le="1"} 3',
        'rpc_seconds_bucket{method="a",le="+Inf"} 4',
        'rpc_seconds_sum{method="a"} 2.5',
        'rpc_seconds_count{method="a"} 4',
        '# TYPE gc_seconds summary',
        'gc_seconds{quantile="0.5"} 0.01',
        'gc_seconds_sum 1',
        'gc_seconds_count 7',
      ].join('\n'),
    );
    assert.deepEqual([...families.keys()], ['rpc_seconds', 'gc_seconds']);
    assert.equal(families.get('rpc_seconds')!.samples.length, 5);
    assert.equal(families.get('gc_seconds')!.samples.length, 3);
  });

  it('parses what prom-client writes: every metric type and the process metrics', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    new Counter({
      name: 'c_total',
      help: 'A counter with "quotes" and a \\ backslash\nand a newline.',
      labelNames: ['l'],
      registers: [registry],
    }).inc({ l: 'va"l\\ue\nx' });
    new Gauge({ name: 'g', help: 'g', registers: [registry] }).set(NaN);
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['m'], buckets: [0.1, 1], registers: [registry] });
    histogram.observe({ m: 'x' }, 0.5);
    histogram.observe({ m: 'x' }, 5);
    new Summary({ name: 's', help: 's', registers: [registry] }).observe(1);
    const { families } = parseExposition(await registry.metrics());
    assert.equal(families.get('c_total')!.samples[0].labels.l, 'va"l\\ue\nx');
    assert.equal(families.get('c_total')!.help, 'A counter with "quotes" and a \\ backslash\nand a newline.');
    assert.ok(Number.isNaN(families.get('g')!.samples[0].value));
    assert.equal(families.get('h_seconds')!.type, 'histogram');
    assert.deepEqual(
      families
        .get('h_seconds')!
        .samples.filter((s) => s.name === 'h_seconds_bucket')
        .map((s) => [s.labels.le, s.value]),
      [
        ['0.1', 0],
        ['1', 1],
        ['+Inf', 2],
      ],
    );
    assert.equal(families.get('s')!.type, 'summary');
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
    ]) {
      assert.ok(families.has(name), `${name} is listed`);
    }
  });

  it('refuses malformed text, naming the line', () => {
    const cases: Array<[string, RegExp]> = [
      ['ok 1\nbad-name 1', /line 2: expected whitespace/],
      ['m{l="x} 1', /line 1: unterminated value/],
      ['m{l=x} 1', /expected " to open/],
      ['m{1l="x"} 1', /bad label name/],
      ['m{l="a",l="b"} 1', /label l repeated/],
      ['m 1 2 3', /expected a value and an optional timestamp/],
      ['m one', /bad value "one"/],
      ['m 0x10', /bad value/],
      ['m', /expected a value/],
      ['m 1 12.5', /bad timestamp/],
      ['# TYPE m counter\n# TYPE m gauge', /line 2: second TYPE/],
      ['# TYPE m wibble', /unknown type "wibble"/],
      ['m 1\n# TYPE m counter', /TYPE for m after its samples/],
      ['a 1\nb 1\na 2', /line 3: family a continues after another family began/],
      ['# TYPE h histogram\nh_bucket 1', /histogram bucket without le/],
      ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1', /no \+Inf bucket/],
      ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1', /bucket le=Infinity below le=1/],
      ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3', /_count 3 differs from the \+Inf bucket 2/],
      ['# TYPE s summary\ns 1', /summary sample without quantile/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseExposition(text),
        (error: unknown) => error instanceof ExpositionParseError && message.test(error.message),
        text,
      );
    }
  });

  it('accepts an empty exposition and CRLF line ends', () => {
    assert.equal(parseExposition('').samples.length, 0);
    assert.equal(parseExposition('# TYPE m gauge\r\nm 1\r\n').families.get('m')!.samples[0].value, 1);
  });
});

describe('familyNameOf and parseValue', () => {
  it('strips the histogram and summary suffixes only', () => {
    assert.equal(familyNameOf('grpc_server_handling_seconds_bucket'), 'grpc_server_handling_seconds');
    assert.equal(familyNameOf('x_sum'), 'x');
    assert.equal(familyNameOf('x_count'), 'x');
    assert.equal(familyNameOf('grpc_server_handled_total'), 'grpc_server_handled_total');
  });

  it('reads Prometheus floats and nothing else', () => {
    assert.equal(parseValue('+Inf'), Infinity);
    assert.ok(Number.isNaN(parseValue('Nan')), 'prom-client writes NaN so');
    assert.equal(parseValue('-1.5E+2'), -150);
    assert.equal(parseValue('.5'), 0.5);
    assert.throws(() => parseValue(''));
    assert.throws(() => parseValue('1,5'));
  });
});
