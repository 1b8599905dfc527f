// Open-loop load at a fixed rate (autocannon), for latency at a given throughput.
// Usage: node fixed-rate.mjs '<json: url, rate, seconds, connections, requests[{headers, body}]>'
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2]);
const result = await autocannon({
  url: o.url,
  method: 'POST',
  connections: o.connections,
  duration: o.seconds,
  overallRate: o.rate,
  requests: o.requests.map((r) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...r.headers }, body: r.body })),
});
console.log(JSON.stringify({
  rps: result.requests.average,
  requests: result.requests.total,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  maxMs: result.latency.max,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
}));
