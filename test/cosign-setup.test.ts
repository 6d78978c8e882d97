/**
 * scripts/setup.d/65-cosign.sh: quiet and instant when cosign is there; when the Go module proxy
 * refuses a module version, the error names it with the fix. The refusing proxy is a loopback HTTP
 * server of ours answering 403 to everything, with an empty cache, so nothing leaves the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/lib/paths.ts';
import { COSIGN_VERSION, cosignPath, ensureCosign } from '../src/lib/tools/cosign.ts';

const SCRIPT = join(projectRoot, 'scripts/setup.d/65-cosign.sh');
let server: Server;
let port = 0;
const asked: string[] = [];

beforeAll(async () => {
  await ensureCosign();
  server = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('Forbidden\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
}, 1800_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

describe('65-cosign.sh', () => {
  it('when cosign is built: exit 0, no output, and the binary is the pinned version', async () => {
    const t0 = Date.now();
    const r = await execa('bash', [SCRIPT]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    console.log(`present: ${Date.now() - t0} ms`);
    const v = await execa(cosignPath(), ['version', '--json']);
    expect((JSON.parse(v.stdout) as { gitVersion: string }).gitVersion).toBe(COSIGN_VERSION);
  });

  it('a proxy that refuses: one named module version and the fix, exit 1, no binary', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'cosign-refused-'));
    try {
      const r = await execa('bash', [SCRIPT], {
        reject: false,
        env: {
          SPARKCRAFT_CACHE: cache,
          GOPROXY: `http://127.0.0.1:${port}`,
          GOSUMDB: 'off',
          GONOSUMDB: '',
          GOPRIVATE: '',
          HTTPS_PROXY: 'http://127.0.0.1:9',
          HTTP_PROXY: '',
        },
      });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /error: the Go module proxy refuses [\w./-]+@v[\w.+-]+\. Fix: in scripts\/cosign run `go get [\w./-]+@<a served version>` then `go mod tidy`/,
      );
      expect(r.stderr).toMatch(/error: downloading cosign v[\d.]+'s modules failed \(log: /);
      expect(asked.length).toBeGreaterThan(0);
      const bins = await execa('bash', ['-c', `ls "${cache}/bin" 2>/dev/null | wc -l`]);
      expect(bins.stdout.trim()).toBe('0');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 300_000);
});
