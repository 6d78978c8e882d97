/**
 * src/smoke/browser.ts against pages served here on loopback: Debian's Chromium (playwright-core) waits
 * for rows a page's JavaScript renders late, reads them, keeps a PNG screenshot, and a page whose rows
 * never come (or lack a wanted text) fails in one message naming what it waited for and what it saw.
 * The profile Chromium used is removed. The history server's and Connect server's UIs on the node:
 * the data 4 and connect scenarios.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ROOT } from './support/k8s.ts';

const PAGE = (rows: string[], delayMs: number) => `<!doctype html><html><head><title>apps</title></head><body>
<table id="apps"><tbody></tbody></table>
<script>setTimeout(() => { const b = document.querySelector('#apps tbody');
${JSON.stringify(rows)}.forEach((r) => { const tr = document.createElement('tr'); tr.innerHTML = '<td>' + r + '</td><td>done</td>'; b.appendChild(tr); }); }, ${delayMs});</script>
</body></html>`;

let server: Server;
let base = '';
const out = mkdtempSync(join(tmpdir(), 'sparkcraft-browser-'));
beforeAll(async () => {
  await execa('bash', [join(ROOT, 'scripts/setup.d/75-chromium.sh')], { stdio: 'inherit' });
  server = createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    if (req.url === '/late') res.end(PAGE(['app-1 pi', 'app-2 sql'], 1500));
    else if (req.url === '/short') res.end(PAGE(['app-1 pi'], 0));
    else if (req.url === '/busy') res.end(PAGE(['app-1 pi'], 0).replace('<body>', '<body><div class="blockUI">Loading...</div>'));
    else res.end('<html><body><p>nothing here</p></body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 600_000);
afterAll(() => {
  server?.close();
  rmSync(out, { recursive: true, force: true });
});

describe('the browser of the UI scenarios (src/smoke/browser.ts)', () => {
  it('waits for rows rendered by JavaScript, reads them, keeps a PNG; its profile is removed', async () => {
    const { browse } = await import('../src/smoke/browser.ts');
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('sparkcraft-chromium-'));
    const [seen] = await browse([{ name: 'late', url: `${base}/late`, rows: '#apps tbody tr', want: ['app-2'] }], out);
    expect(seen!.rows).toEqual(['app-1 pi done', 'app-2 sql done']);
    expect(seen!.title).toBe('apps');
    expect(readFileSync(seen!.screenshot).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('sparkcraft-chromium-'))).toEqual(before);
  }, 120_000);

  it('rows that never render, or lack a wanted text, fail naming the selector, the missing text and what the page showed', async () => {
    const { browse } = await import('../src/smoke/browser.ts');
    await expect(browse([{ name: 'empty', url: `${base}/empty`, rows: '#apps tbody tr', timeoutMs: 3000 }], out)).rejects.toThrow(
      /^empty \(http:\/\/127\.0\.0\.1:\d+\/empty\): no '#apps tbody tr' rendered within 3 s; the page shows: nothing here \(screenshot .*empty\.failed\.png\)$/,
    );
    await expect(browse([{ name: 'short', url: `${base}/short`, rows: '#apps tbody tr', want: ['app-1', 'app-9'], timeoutMs: 3000 }], out)).rejects.toThrow(
      /^short \(.*\): its rows lack app-9 within 3 s/,
    );
    await expect(browse([{ name: 'busy', url: `${base}/busy`, rows: '#apps tbody tr', busy: '.blockUI', timeoutMs: 3000 }], out)).rejects.toThrow(
      /^busy \(.*\): '\.blockUI' still shown within 3 s/,
    );
  }, 120_000);
});
