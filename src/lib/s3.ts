/**
 * A small SigV4-signed S3 client (path-style, what s3a talks to the local SeaweedFS with): for
 * making buckets and reading objects back from the host. The secret comes from its file.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface S3Env {
  endpoint: string;
  podEndpoint?: string;
  region: string;
  accessKey: string;
  secretKeyFile: string;
}

export interface S3Creds extends S3Env {
  secret: string;
}

export function parseS3Env(stdout: string): S3Env {
  const env = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  for (const k of ['LOCAL_S3_ENDPOINT', 'LOCAL_S3_REGION', 'LOCAL_S3_ACCESS_KEY', 'LOCAL_S3_SECRET_KEY_FILE']) {
    if (!env[k]) throw new Error(`local-s3.sh env printed no ${k}`);
  }
  return {
    endpoint: env.LOCAL_S3_ENDPOINT!,
    podEndpoint: env.LOCAL_S3_POD_ENDPOINT,
    region: env.LOCAL_S3_REGION!,
    accessKey: env.LOCAL_S3_ACCESS_KEY!,
    secretKeyFile: env.LOCAL_S3_SECRET_KEY_FILE!,
  };
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const hmac = (k: string | Buffer, s: string) => createHmac('sha256', k).update(s).digest();
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The SigV4 headers of an S3 request (pure; `now` for tests). */
export function signS3(
  c: { accessKey: string; secret: string; region: string },
  method: string,
  url: URL,
  body: string | Buffer,
  now = new Date(),
): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payload = sha256(body);
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payload, 'x-amz-date': amzDate };
  const names = Object.keys(headers).sort();
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [enc(k), enc(v)])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : a[1]! < b[1]! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = url.pathname
    .split('/')
    .map((s) => enc(decodeURIComponent(s)))
    .join('/');
  const canonical = [method, path, query, ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), payload].join('\n');
  const scope = `${day}/${c.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${c.secret}`, day), c.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...rest } = headers;
  return { ...rest, authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

/** One signed request; resolves with the status and the body as text. */
export async function s3Request(
  c: { endpoint: string; accessKey: string; secret?: string; secretKeyFile?: string; region: string },
  method: 'GET' | 'PUT' | 'DELETE' | 'HEAD',
  path: string,
  opts: { body?: string; query?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  const secret = c.secret ?? readFileSync(c.secretKeyFile!, 'utf8').trim();
  const url = new URL(path, c.endpoint);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const body = opts.body ?? '';
  const headers = { ...signS3({ accessKey: c.accessKey, secret, region: c.region }, method, url, body), ...(opts.headers ?? {}) };
  const res = await fetch(url, { method, headers, body: method === 'PUT' ? body : undefined });
  return { status: res.status, body: await res.text() };
}

/** An object's bytes (for binary objects such as compressed event logs). */
export async function s3GetBytes(c: S3Creds, path: string): Promise<Buffer> {
  const url = new URL(path, c.endpoint);
  const res = await fetch(url, { headers: signS3(c, 'GET', url, '') });
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Every key under `prefix` in `bucket` (ListObjectsV2, all pages). */
export async function listKeys(c: S3Creds, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3Request(c, 'GET', `/${bucket}`, { query: { 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) } });
    if (r.status !== 200) throw new Error(`listing s3://${bucket}/${prefix}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
    keys.push(...[...r.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!.replace(/&amp;/g, '&')));
    token = /<IsTruncated>true<\/IsTruncated>/.test(r.body) ? r.body.match(/<NextContinuationToken>([^<]*)</)?.[1] : undefined;
  } while (token);
  return keys;
}
