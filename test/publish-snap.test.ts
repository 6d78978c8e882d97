/**
 * Snap → Snap Store. The store cannot be reached from here, so: a real snap built with `snap pack`
 * (Debian snapd, no daemon) is read back with unsquashfs for the plan; without snapcraft and
 * SNAPCRAFT_STORE_CREDENTIALS the upload is refused with the plan; and a recording stand-in for
 * snapcraft (clearly a stub) checks the exact argv and that the credentials travel in the environment
 * only. Whether the real store accepts the upload is not testable here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { AggregateUserError, type UserError } from '../src/lib/errors.ts';
import { storeReadiness } from '../src/lib/tools/snapcraft-store.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { applySnapUpload, applyStoreCommand, planPromote, planSnapUpload, readSnapMeta } from '../src/publish/store.ts';
import { fixtureLine, tmpDir } from './support/registry.ts';

let dir: string;
let snapFile: string;

async function packSnap(version: string, grade = 'stable'): Promise<string> {
  const d = await fs.mkdtemp(path.join(dir, 'snapdir-'));
  await fs.chmod(d, 0o755); // snap pack refuses a 0700 root ("bad permissions")
  await fs.mkdir(path.join(d, 'meta'));
  await fs.mkdir(path.join(d, 'bin'));
  await fs.writeFile(
    path.join(d, 'meta/snap.yaml'),
    `name: spark-client\nversion: "${version}"\nsummary: test\ndescription: test snap\nbase: core22\ngrade: ${grade}\nconfinement: strict\narchitectures: [amd64]\napps:\n  spark-submit:\n    command: bin/spark-submit\n`,
  );
  await fs.writeFile(path.join(d, 'bin/spark-submit'), '#!/bin/sh\necho spark-submit\n', { mode: 0o755 });
  const out = await fs.mkdtemp(path.join(dir, 'snapout-'));
  await execa('timeout', ['120', 'snap', 'pack', d, out]);
  const [f] = await fs.readdir(out);
  return path.join(out, f!);
}

/** A stand-in `snapcraft` that records its argv and whether the credentials reached it via env. */
async function recordingSnapcraft(): Promise<{ bin: string; log: string }> {
  const bin = await fs.mkdtemp(path.join(dir, 'bin-'));
  const log = path.join(bin, 'calls.log');
  await fs.writeFile(
    path.join(bin, 'snapcraft'),
    `#!/bin/sh
if [ "$1" = "--version" ]; then echo "snapcraft 8.0 (recording stand-in)"; exit 0; fi
{ printf 'argv:'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\n'; printf 'creds-in-env: %s\\n' "\${SNAPCRAFT_STORE_CREDENTIALS:+yes}"; } >> "${log}"
case "$1" in
  upload) echo "Revision 42 created for 'spark-client' and released to '3.5/edge' (token $SNAPCRAFT_STORE_CREDENTIALS)";;
  release|promote) echo "released";;
  fail) echo "Error: store credentials expired" >&2; exit 2;;
esac
`,
    { mode: 0o755 },
  );
  return { bin, log };
}

beforeAll(async () => {
  execFileSync('bash', [path.join(projectRoot, 'scripts/setup.d/55-registry.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  dir = await tmpDir('sparkcraft-snap-');
  snapFile = await packSnap('3.5.9');
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('snap upload', () => {
  it('reads name, version, grade and architectures from a real snap', async () => {
    expect(await readSnapMeta(snapFile)).toEqual({ name: 'spark-client', version: '3.5.9', grade: 'stable', confinement: 'strict', architectures: ['amd64'] });
    const notASnap = path.join(dir, 'junk.snap');
    await fs.writeFile(notASnap, 'not squashfs');
    await expect(readSnapMeta(notASnap)).rejects.toMatchObject({ code: 'E_ARTIFACT' });
  });

  it('without snapcraft and credentials: the exact plan, then a clear refusal', async () => {
    const env = { PATH: '/usr/bin:/bin' }; // no snapcraft on this PATH (nor on this machine)
    const { missing } = await storeReadiness(env);
    expect(missing).toEqual([
      'snapcraft is not installed (snap install snapcraft --classic)',
      'SNAPCRAFT_STORE_CREDENTIALS is not set (snapcraft export-login, stored as a CI secret)',
    ]);
    const plan = planSnapUpload({ resolved: fixtureLine(), snapName: 'spark-client', file: snapFile, meta: await readSnapMeta(snapFile), missing });
    expect(plan.argv).toEqual(['snapcraft', 'upload', '--release=3.5/edge', snapFile]);
    const err = await applySnapUpload(plan, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateUserError);
    expect((err as UserError).oneLine()).toBe(
      'cannot upload to the Snap Store: snapcraft is not installed (snap install snapcraft --classic) (the plan above is what would run); ' +
        'cannot upload to the Snap Store: SNAPCRAFT_STORE_CREDENTIALS is not set (snapcraft export-login, stored as a CI secret) (the plan above is what would run)',
    );
  });

  it('refuses a snap built for another architecture than the upload it is planned as', async () => {
    const meta = { ...(await readSnapMeta(snapFile)), architectures: ['arm64'] };
    const plan = planSnapUpload({ resolved: fixtureLine(), snapName: 'spark-client', file: snapFile, meta, missing: [] });
    expect(plan.problems).toEqual([`${snapFile} is built for arm64, the upload of amd64`]);
  });

  it("refuses a snap whose version is not the line's", async () => {
    const other = await packSnap('3.5.8');
    const plan = planSnapUpload({ resolved: fixtureLine(), snapName: 'spark-client', file: other, meta: await readSnapMeta(other), missing: [] });
    expect(plan.problems).toEqual([`${other} has version 3.5.8, line 3.5 is 3.5.9`]);
    await expect(applySnapUpload(plan, { PATH: process.env.PATH })).rejects.toMatchObject({ code: 'E_SNAP_MISMATCH' });
  });

  it('runs snapcraft with exactly the planned argv; credentials only in its environment, masked in output', async () => {
    const { bin, log } = await recordingSnapcraft();
    const secret = 'c25hcGNyYWZ0LWNyZWRzLXRlc3Q=';
    const env = { PATH: `${bin}:/usr/bin:/bin`, SNAPCRAFT_STORE_CREDENTIALS: secret };
    const { missing, snapcraft } = await storeReadiness(env);
    expect(missing).toEqual([]);
    expect(snapcraft).toContain('recording stand-in');
    const plan = planSnapUpload({ resolved: fixtureLine(), snapName: 'spark-client', file: snapFile, meta: await readSnapMeta(snapFile), missing });
    const result = await applySnapUpload(plan, env);
    expect(result.revision).toBe(42);
    expect(result.output).not.toContain(secret);
    expect(result.output).toContain('(token ***)');
    const calls = await fs.readFile(log, 'utf8');
    expect(calls).toBe(`argv: [upload] [--release=3.5/edge] [${snapFile}]\ncreds-in-env: yes\n`);

    const promote = planPromote({ snapName: 'spark-client', track: '3.5', to: 'beta', revision: result.revision!, missing: [] });
    await applyStoreCommand([promote.argv[0]!, promote.argv.slice(1)], env, 'release');
    expect((await fs.readFile(log, 'utf8')).split('\n')[2]).toBe('argv: [release] [spark-client] [42] [3.5/beta]');

    const failed = await applyStoreCommand(['snapcraft', ['fail']], env, 'snapcraft upload to 3.5/edge').catch((e: unknown) => e);
    expect((failed as UserError).code).toBe('E_STORE_AUTH');
    expect((failed as UserError).oneLine()).toBe(
      'snapcraft upload to 3.5/edge failed: Error: store credentials expired (refresh SNAPCRAFT_STORE_CREDENTIALS (snapcraft export-login))',
    );
  });
});
