/** The lock's cross-check of a downloaded jar with the .sha1 beside it, against a loopback server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkMavenSha1 } from '../src/stage/lock.ts';

const jar = join(mkdtempSync(join(tmpdir(), 'lock-sha1-')), 'a.jar');
// Bigger than one read chunk, so that the streamed digest covers several.
const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
const sha1 = createHash('sha1').update(body).digest('hex');
let server: Server;
let base: string;

beforeAll(async () => {
  writeFileSync(jar, body);
  server = createServer((req, res) => {
    if (req.url === '/good.jar.sha1') res.end(`${sha1}  good.jar\n`);
    else if (req.url === '/bad.jar.sha1') res.end('0'.repeat(40));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('checkMavenSha1', () => {
  it('accepts a jar whose sha1 is the one served beside it (a "sum  name" line)', async () => {
    await expect(checkMavenSha1('maven:x', `${base}/good.jar`, jar)).resolves.toBeUndefined();
  });
  it('refuses one whose sha1 differs, naming both', async () => {
    await expect(checkMavenSha1('maven:x', `${base}/bad.jar`, jar)).rejects.toMatchObject({
      code: 'E_CHECKSUM',
      message: `maven:x: sha1 ${sha1} differs from Maven Central's ${'0'.repeat(40)}`,
    });
  });
  it('accepts one without a .sha1 (nothing to cross-check)', async () => {
    await expect(checkMavenSha1('maven:x', `${base}/none.jar`, jar)).resolves.toBeUndefined();
  });
});
