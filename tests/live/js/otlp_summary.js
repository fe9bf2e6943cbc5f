// Summarizes the OTLP trace requests @elastic/mockotlpserver printed (its
// `-o trace-json` output: one JSON line per request received) so that a test
// can check them against the database: the spans, how many are roots, whether
// every parent is a span received, the service names, the span kinds, and a
// digest of the spans' contents (ids, parents, names, kinds, times,
// attributes, status, service) that is equal for two encodings of the same spans.
// Usage: node otlp_summary.js SERVER_OUTPUT FIRST COUNT
//   (requests FIRST .. FIRST+COUNT-1, counted from 0 in the order received)
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

const [file, first, count] = [process.argv[2], Number(process.argv[3] || 0), Number(process.argv[4] || Infinity)];
const requests = fs.readFileSync(file, 'utf8').split('\n')
  .filter((l) => l.startsWith('{"resourceSpans"'))
  .map((l) => JSON.parse(l))
  .slice(first, first + count);
const spans = [];
for (const req of requests) {
  for (const rs of req.resourceSpans) {
    const service = rs.resource.attributes['service.name'];
    for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({service, s});
  }
}
const ids = new Set(spans.map(({s}) => s.spanId));
const kinds = {};
let roots = 0, dangling = 0;
for (const {s} of spans) {
  kinds[s.kind] = (kinds[s.kind] || 0) + 1;
  if (!s.parentSpanId) roots++;
  else if (!ids.has(s.parentSpanId)) dangling++;
}
const canonical = spans.map(({service, s}) => JSON.stringify([
  service, s.traceId, s.spanId, s.parentSpanId || '', s.name, s.kind, String(s.startTimeUnixNano),
  String(s.endTimeUnixNano), Object.keys(s.attributes || {}).sort().map((k) => [k, String(s.attributes[k])]),
  s.status ? [s.status.code || '', s.status.message || ''] : []])).sort();
const digest = crypto.createHash('sha256').update(canonical.join('\n')).digest('hex');
const services = [...new Set(spans.map(({service}) => service))].sort();
console.log(JSON.stringify({requests: requests.length, spans: spans.length, roots, dangling,
  unique_ids: ids.size, services, kinds, digest}));
