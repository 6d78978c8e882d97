/**
 * pip, for one thing: resolving a flavour's Python requirements once (`npm run lock`) into the exact
 * wheels of their whole closure, for the image's Python and platform, without installing anything
 * (`pip install --dry-run --report`). Building installs from those wheels only (the part's
 * override-build runs `pip install --no-index`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { lastLine, run, type Command } from './run.ts';
import { temporary } from '../interrupt.ts';

/** Debian's python3 with python3-pip (setup installs both): the pip the builds use too. */
export const PYTHON = '/usr/bin/python3';

/**
 * Pure: the resolving command (binary wheels only, for CPython `python` on `platforms`: the pip tags of
 * the cell's architecture, src/lib/arch.ts).
 */
export function resolveCommand(requirements: string[], python: string, reportFile: string, target: string, platforms: string[]): Command {
  const v = python.replace('.', '');
  return [
    PYTHON,
    [
      '-m',
      'pip',
      'install',
      '--dry-run',
      '--ignore-installed',
      '--quiet',
      '--disable-pip-version-check',
      '--no-cache-dir',
      '--report',
      reportFile,
      '--only-binary=:all:',
      '--python-version',
      python,
      '--implementation',
      'cp',
      '--abi',
      `cp${v}`,
      ...platforms.flatMap((p) => ['--platform', p]),
      '--target',
      target,
      ...requirements,
    ],
  ];
}

export interface ResolvedWheel {
  name: string;
  version: string;
  url: string;
  sha256: string;
  license: string;
}

const CLASSIFIERS: Record<string, string> = {
  'License :: OSI Approved :: MIT License': 'MIT',
  'License :: OSI Approved :: Apache Software License': 'Apache-2.0',
  'License :: OSI Approved :: BSD License': 'LicenseRef-BSD',
  'License :: OSI Approved :: ISC License (ISCL)': 'ISC',
  'License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)': 'MPL-2.0',
  'License :: OSI Approved :: Python Software Foundation License': 'PSF-2.0',
};

/** Pure: an SPDX-ish licence from a wheel's metadata (expression, short license field, classifier). */
export function licenseOf(meta: { license_expression?: string; license?: string; classifier?: string[] }): string {
  if (meta.license_expression) return meta.license_expression;
  const l = (meta.license ?? '').trim();
  if (/^[A-Za-z0-9.+-]+(-only|-or-later)?$/.test(l) && l !== 'UNKNOWN') return l;
  for (const c of meta.classifier ?? []) if (CLASSIFIERS[c]) return CLASSIFIERS[c]!;
  return 'NOASSERTION';
}

/** Pure: the wheels of a pip installation report, sorted by name. */
export function wheelsOfReport(report: {
  install: Array<{
    metadata: { name: string; version: string; license_expression?: string; license?: string; classifier?: string[] };
    download_info: { url: string; archive_info?: { hashes?: Record<string, string> } };
  }>;
}): ResolvedWheel[] {
  return report.install
    .map((i) => {
      const sha256 = i.download_info.archive_info?.hashes?.sha256;
      if (!sha256 || !i.download_info.url.endsWith('.whl'))
        throw new UserError('E_LOCK_RESOLVE', `pip resolved ${i.metadata.name} ${i.metadata.version} to ${i.download_info.url} without a wheel sha256`);
      return { name: i.metadata.name, version: i.metadata.version, url: i.download_info.url, sha256, license: licenseOf(i.metadata) };
    })
    .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
}

/** Resolve `requirements` (`name==version`) for `python` into every wheel of their closure. */
export async function resolveWheels(requirements: string[], python: string, platforms: string[]): Promise<ResolvedWheel[]> {
  const dir = temporary(mkdtempSync(join(tmpdir(), 'sparkcraft-pip-')));
  try {
    const report = join(dir, 'report.json');
    const r = await run(resolveCommand(requirements, python, report, join(dir, 'target'), platforms), { timeoutMs: 900_000 });
    if (r.missing) throw new UserError('E_TOOL', `${PYTHON} is not installed`, { hint: 'run `npm run setup` (installs python3-pip)' });
    if (r.exitCode !== 0) throw new UserError('E_LOCK_RESOLVE', `pip could not resolve ${requirements.join(' ')} for Python ${python}: ${lastLine(r.stderr)}`);
    return wheelsOfReport(JSON.parse(readFileSync(report, 'utf8')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
