import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A stand-in OpenTelemetry collector: accepts POST /v1/traces (any encoding), counts, keeps nothing. */
export interface OtlpReceiver {
  url: string;
  /** Export requests received, and their bytes. */
  stats(): { requests: number; bytes: number };
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let requests = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') requests++;
      // An empty ExportTraceServiceResponse: a success in either encoding.
      res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf') }).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ requests, bytes }),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
