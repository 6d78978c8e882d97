/**
 * A TLS-terminating reverse proxy of ours in front of the loopback registry that answers chosen
 * requests with an HTTP error (e.g. 503 on blob uploads) and forwards everything else unchanged — for
 * testing retries on 5xx. It serves the registry's own certificate (same CA, valid for 127.0.0.1), so
 * clients verify it as they would the registry; the Host header is kept, so the registry's upload
 * Location URLs point back at the proxy.
 */
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultRule {
  match: (req: IncomingMessage) => boolean;
  status: number;
  /** How many matching requests get the error (then they pass). */
  times: number;
}

export class HttpFaultProxy {
  private server: https.Server | undefined;
  injected = 0;
  forwarded = 0;
  port = 0;
  constructor(
    private readonly target: { host: string; port: number; ca: Buffer },
    private readonly tls: { cert: Buffer; key: Buffer },
    private readonly rule: FaultRule,
  ) {}

  async start(): Promise<number> {
    this.server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.injected < this.rule.times && this.rule.match(req)) {
      this.injected++;
      req.resume();
      req.on('end', () => {
        res.writeHead(this.rule.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected by the test proxy' }] }));
      });
      return;
    }
    this.forwarded++;
    const up = https.request(
      { host: this.target.host, port: this.target.port, method: req.method, path: req.url, headers: req.headers, ca: this.target.ca },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
