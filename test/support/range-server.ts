/**
 * A loopback HTTP server of one file for download tests: it answers Range requests (206 with
 * Content-Range, If-Range against its ETag) unless told to ignore them, sends at `bytesPerSec`, and
 * injects faults at fixed offsets of the file: `cutAt` resets the connection once the body reaches
 * each offset (once each), `stallAt` stops sending there (the connection stays open). It counts
 * requests and body bytes sent, and keeps each request's Range header.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RangeServerOptions {
  bytesPerSec?: number;
  etag?: string;
  cutAt?: number[];
  stallAt?: number[];
  /** Answer every request with the whole file (200), as a server without range support does. */
  ignoreRange?: boolean;
}

export class RangeServer {
  private server: Server | undefined;
  private cuts: number[];
  private stalls: number[];
  requests = 0;
  bytesSent = 0;
  ranges: Array<string | undefined> = [];
  url = '';
  constructor(
    public body: Buffer,
    public o: RangeServerOptions = {},
  ) {
    this.cuts = [...(o.cutAt ?? [])].sort((a, b) => a - b);
    this.stalls = [...(o.stallAt ?? [])].sort((a, b) => a - b);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests++;
      const range = req.headers.range;
      this.ranges.push(range);
      const etag = this.o.etag ?? '"v1"';
      const m = /^bytes=(\d+)-$/.exec(range ?? '');
      const ifRange = req.headers['if-range'];
      let start = 0;
      const headers: Record<string, string | number> = { etag, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
      if (m && !this.o.ignoreRange && (!ifRange || ifRange === etag)) {
        start = Number(m[1]);
        if (start >= this.body.length) {
          res.writeHead(416, { ...headers, 'content-range': `bytes */${this.body.length}` }).end();
          return;
        }
        res.writeHead(206, {
          ...headers,
          'content-length': this.body.length - start,
          'content-range': `bytes ${start}-${this.body.length - 1}/${this.body.length}`,
        });
      } else res.writeHead(200, { ...headers, 'content-length': this.body.length });
      this.send(res, start);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/file.bin`;
    return this.url;
  }

  private send(res: ServerResponse, from: number): void {
    const chunk = 16 * 1024;
    const every = this.o.bytesPerSec ? (chunk / this.o.bytesPerSec) * 1000 : 0;
    let at = from;
    const step = () => {
      if (res.destroyed) return;
      if (at >= this.body.length) {
        res.end();
        return;
      }
      const cut = this.cuts.find((c) => c > at);
      const stall = this.stalls.find((c) => c > at);
      const stop = Math.min(at + chunk, cut ?? Infinity, stall ?? Infinity, this.body.length);
      const piece = this.body.subarray(at, stop);
      this.bytesSent += piece.length;
      at = stop;
      res.write(piece, () => {
        if (cut === at) {
          this.cuts = this.cuts.filter((c) => c !== cut);
          res.socket?.resetAndDestroy();
          return;
        }
        if (stall === at) {
          this.stalls = this.stalls.filter((c) => c !== stall);
          return; // nothing more on this connection; the client's idle timeout ends it
        }
        if (every) setTimeout(step, every);
        else setImmediate(step);
      });
    };
    step();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
