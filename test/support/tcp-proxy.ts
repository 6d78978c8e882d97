/**
 * A small TCP proxy of ours (node:net) between a client and a loopback server, used to break
 * connections on purpose: after `cutAfterBytes` bytes have flowed client → server (counted over all
 * connections), it resets both sides of the connection carrying that byte, `cuts` times. TLS passes
 * through untouched (bytes are opaque), so the client still verifies the real server's certificate.
 */
import * as net from 'node:net';

export interface CuttingProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Cut when the client → server byte count passes this (0 = never cut). */
  cutAfterBytes: number;
  /** How many times to cut (each time after another `cutAfterBytes`). */
  cuts?: number;
}

export class CuttingProxy {
  readonly opts: Required<CuttingProxyOptions>;
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  /** Client → server bytes forwarded so far. */
  upstreamBytes = 0;
  /** Connections accepted. */
  connections = 0;
  /** Connections cut so far. */
  cutsDone = 0;
  private nextCutAt: number;
  port = 0;

  constructor(opts: CuttingProxyOptions) {
    this.opts = { cuts: 1, ...opts };
    this.nextCutAt = opts.cutAfterBytes;
  }

  async start(): Promise<number> {
    this.server = net.createServer((client) => this.handle(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  private handle(client: net.Socket): void {
    this.connections++;
    const upstream = net.connect(this.opts.targetPort, this.opts.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk: Buffer) => {
      const cutting = this.opts.cutAfterBytes > 0 && this.cutsDone < this.opts.cuts && this.upstreamBytes + chunk.length > this.nextCutAt;
      if (cutting) {
        // Forward what fits below the threshold, then reset both sides mid-stream.
        const keep = Math.max(0, this.nextCutAt - this.upstreamBytes);
        if (keep > 0) upstream.write(chunk.subarray(0, keep));
        this.upstreamBytes += keep;
        this.cutsDone++;
        this.nextCutAt = this.upstreamBytes + this.opts.cutAfterBytes;
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      this.upstreamBytes += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
