#!/usr/bin/env node
// Send one small trace to glimpse through the OpenTelemetry JS SDK (NodeSDK) over OTLP.
//
//   node send.js <endpoint> <grpc|http>
//
// endpoint: the base URL of the receiver, e.g. http://127.0.0.1:4317 (gRPC) or
// http://127.0.0.1:4318 (HTTP/protobuf; "/v1/traces" is appended). Both arguments may come
// from GLIMPSE_OTLP_ENDPOINT and GLIMPSE_OTLP_PROTOCOL instead.
//
// The trace:  GET /orders/{id}     SERVER    root
//               load order         INTERNAL  child
//                 SELECT orders    CLIENT    grandchild: attributes of every type, one event
//                 publish order    PRODUCER  grandchild: ERROR status and a recorded exception
//
// After the SDK has shut down (every span exported and acknowledged) it prints one JSON line
// on stdout: the resource and scope, and every span as the SDK finished it, so that the test
// can compare what glimpse stored with what was sent. It exits non-zero when an export failed.
'use strict';

const { NodeSDK, api, resources, tracing } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter: GrpcTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { OTLPTraceExporter: ProtoTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');

const SCOPE_NAME = 'glimpse-node-client';
const SCOPE_VERSION = '1.0.0';

// tests/test_node_client.py expects exactly these: every attribute value type the JS API accepts. JavaScript has one
// number type; the SDK sends integers as intValue and everything else as doubleValue.
const CLIENT_ATTRIBUTES = {
  'db.system.name': 'postgresql',
  'db.query.text': 'SELECT * FROM orders WHERE id = $1',
  'server.address': 'db.internal',
  'server.port': 5432,
  'unicode': 'héllo ✓',
  'int.max_safe': Number.MAX_SAFE_INTEGER,
  'int.negative': -7,
  'double.ratio': 0.25,
  'double.negative': -1.5e-3,
  'bool.true': true,
  'bool.false': false,
  'array.strings': ['a', 'b', 'c'],
  'array.ints': [1, 2, 3],
  'array.doubles': [0.5, 1.5],
  'array.bools': [true, false],
};

function usage(message) {
  process.stderr.write(`send.js: ${message}\nusage: node send.js <endpoint> <grpc|http>\n`);
  process.exit(2);
}

function makeExporter(endpoint, protocol) {
  const base = endpoint.replace(/\/+$/, '');
  if (protocol === 'grpc') {
    return new GrpcTraceExporter({ url: base, timeoutMillis: 10000 });
  }
  if (protocol === 'http') {
    return new ProtoTraceExporter({ url: `${base}/v1/traces`, timeoutMillis: 10000 });
  }
  return usage(`unknown protocol ${JSON.stringify(protocol)}`);
}

// Passes batches to the real exporter and remembers how each export ended.
class RecordingExporter {
  constructor(delegate) {
    this.delegate = delegate;
    this.results = [];
    this.exported = 0;
  }

  export(spans, resultCallback) {
    this.delegate.export(spans, (result) => {
      this.results.push(result);
      if (result.code === 0) {
        this.exported += spans.length;
      }
      resultCallback(result);
    });
  }

  forceFlush() {
    return this.delegate.forceFlush ? this.delegate.forceFlush() : Promise.resolve();
  }

  shutdown() {
    return this.delegate.shutdown();
  }
}

function hrTimeToNanos(time) {
  return (BigInt(time[0]) * 1000000000n + BigInt(time[1])).toString();
}

function addNanos(time, nanos) {
  const total = BigInt(time[0]) * 1000000000n + BigInt(time[1]) + BigInt(nanos);
  return [Number(total / 1000000000n), Number(total % 1000000000n)];
}

function describe(span) {
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext ? span.parentSpanContext.spanId : '',
    name: span.name,
    kind: api.SpanKind[span.kind],
    startTimeUnixNano: hrTimeToNanos(span.startTime),
    endTimeUnixNano: hrTimeToNanos(span.endTime),
    attributes: span.attributes,
    status: { code: api.SpanStatusCode[span.status.code], message: span.status.message ?? '' },
    events: span.events.map((event) => ({
      name: event.name,
      timeUnixNano: hrTimeToNanos(event.time),
      attributes: event.attributes ?? {},
    })),
  };
}

async function main() {
  const endpoint = process.argv[2] ?? process.env.GLIMPSE_OTLP_ENDPOINT;
  const protocol = process.argv[3] ?? process.env.GLIMPSE_OTLP_PROTOCOL;
  if (!endpoint || !protocol) {
    usage('an endpoint and a protocol are required');
  }

  api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);
  const exporter = new RecordingExporter(makeExporter(endpoint, protocol));
  const finished = [];
  const keepFinished = {
    onStart() {},
    onEnd(span) {
      finished.push(span);
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const resource = resources.defaultResource().merge(
    resources.resourceFromAttributes({
      'service.name': 'node-checkout',
      'service.namespace': 'shop',
      'service.version': '2.4.1',
      'service.instance.id': 'node-checkout-0',
      'k8s.pod.name': 'node-checkout-6f7c9d-abcde',
      'host.name': 'node-host-a',
    }),
  );
  const sdk = new NodeSDK({
    resource,
    // The process detector adds process.* attributes (an int, a string array); the host
    // detector is left out so that host.name stays the one set above.
    resourceDetectors: [resources.processDetector],
    spanProcessors: [new tracing.BatchSpanProcessor(exporter), keepFinished],
    sampler: new tracing.AlwaysOnSampler(),
    // No metrics or logs: without these NodeSDK would configure OTLP exporters from the environment.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();

  const tracer = api.trace.getTracer(SCOPE_NAME, SCOPE_VERSION);
  // Explicit times with nanosecond digits, so the test can check that none are lost.
  const t0 = [Math.floor(Date.now() / 1000), 123456789];
  const root = tracer.startSpan('GET /orders/{id}', {
    kind: api.SpanKind.SERVER,
    startTime: t0,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/orders/{id}',
      'http.response.status_code': 200,
      'url.path': '/orders/42',
    },
  });
  const rootContext = api.trace.setSpan(api.context.active(), root);
  const internal = tracer.startSpan(
    'load order',
    { kind: api.SpanKind.INTERNAL, startTime: addNanos(t0, 1001), attributes: { 'order.id': '42' } },
    rootContext,
  );
  const internalContext = api.trace.setSpan(rootContext, internal);

  const client = tracer.startSpan(
    'SELECT orders',
    { kind: api.SpanKind.CLIENT, startTime: addNanos(t0, 2002), attributes: CLIENT_ATTRIBUTES },
    internalContext,
  );
  client.addEvent('cache.miss', { 'cache.key': 'order:42', 'attempt': 2, 'ratio': 0.5 }, addNanos(t0, 3003));
  client.setStatus({ code: api.SpanStatusCode.OK });
  client.end(addNanos(t0, 4_000_004));

  const producer = tracer.startSpan(
    'publish order',
    {
      kind: api.SpanKind.PRODUCER,
      startTime: addNanos(t0, 5_000_005),
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
    },
    internalContext,
  );
  const failure = new Error('broker unavailable');
  failure.name = 'BrokerError';
  producer.recordException(failure, addNanos(t0, 6_000_006));
  producer.setStatus({ code: api.SpanStatusCode.ERROR, message: 'broker unavailable' });
  producer.end(addNanos(t0, 7_000_007));

  internal.end(addNanos(t0, 8_000_008));
  root.end(addNanos(t0, 9_876_543_219));

  await sdk.shutdown(); // flushes the batch processor; resolves after the receiver answered

  const spans = finished;
  const failed = exporter.results.filter((result) => result.code !== 0);
  if (failed.length > 0 || exporter.exported !== spans.length) {
    const errors = failed.map((result) => String(result.error));
    process.stderr.write(`send.js: export failed (${exporter.exported}/${spans.length} spans): ${errors.join('; ')}\n`);
    process.exit(1);
  }
  const first = spans[0];
  await first.resource.waitForAsyncAttributes?.();
  const output = {
    protocol,
    exports: exporter.results.length,
    resource: first.resource.attributes,
    scope: { name: first.instrumentationScope.name, version: first.instrumentationScope.version ?? '' },
    spans: spans.map(describe),
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error) => {
  process.stderr.write(`send.js: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
