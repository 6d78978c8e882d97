/**
 * Web UIs as users see them: Debian's headless Chromium (scripts/setup.d/75-chromium.sh), driven by
 * playwright-core (no browser of its own is downloaded), opens a page, waits until its JavaScript has
 * rendered the rows asked for, reads their text and keeps a screenshot. Chromium runs with a fresh
 * profile (removed afterwards) and without the background traffic a default Chromium starts towards
 * Google's hosts: this machine's network rule allows loopback and the pods only.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { temporary } from '../lib/interrupt.ts';
import { projectRoot } from '../lib/paths.ts';

export const CHROMIUM = process.env.SPARKCRAFT_CHROMIUM ?? '/usr/bin/chromium';
/** Chromium's flags: no background networking, component updates, first-run, sync or QUIC. */
export const CHROMIUM_ARGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
  '--disable-gpu',
];

/** Where the UI scenarios keep their screenshots (a test artifact; build/ is not in git). */
export const uiDir = () => resolve(process.env.SPARKCRAFT_SMOKE_UI ?? 'build/smoke/ui');

export interface UiView {
  /** What the page is, for messages and the screenshot's name. */
  name: string;
  url: string;
  /** CSS selector of the rows the page's JavaScript renders (waited for: an HTTP 200 proves nothing). */
  rows: string;
  /** The rows must include these texts (waited for too, up to `timeoutMs`). */
  want?: string[];
  /** A selector of what the page shows while it works (an overlay): gone before the rows count. */
  busy?: string;
  timeoutMs?: number;
}
export interface UiSeen {
  name: string;
  url: string;
  /** Each row's visible text. */
  rows: string[];
  title: string;
  screenshot: string;
}

/** The rows that lack a wanted text (pure). */
export const missingRows = (rows: string[], want: string[]) => want.filter((w) => !rows.some((r) => r.includes(w)));

/**
 * I/O: each view in turn, in one browser; screenshots (full page, PNG) into `outDir`. A view whose rows
 * do not appear, or lack a wanted text, within its time fails with what the page showed.
 */
export async function browse(views: UiView[], outDir: string): Promise<UiSeen[]> {
  // Installed at first use (the scenarios that look at a UI are the only users; npm test installs it up front).
  if (!existsSync(CHROMIUM) && !process.env.SPARKCRAFT_CHROMIUM) await execa('bash', [join(projectRoot, 'scripts/setup.sh'), 'chromium'], { stdio: 'inherit' });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/setup.sh chromium, or name a Chromium with SPARKCRAFT_CHROMIUM`);
  const { chromium } = await import('playwright-core');
  mkdirSync(outDir, { recursive: true });
  const profile = temporary(mkdtempSync(join(tmpdir(), 'sparkcraft-chromium-')));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
  const seen: UiSeen[] = [];
  try {
    const page = await context.newPage();
    for (const v of views) {
      const until = Date.now() + (v.timeoutMs ?? 60_000);
      await page.goto(v.url, { waitUntil: 'load', timeout: v.timeoutMs ?? 60_000 });
      let rows: string[] = [];
      for (let tries = 1; ; tries++) {
        rows = await page.$$eval(v.rows, (els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
        const lacking = missingRows(rows, v.want ?? []);
        const working = v.busy ? (await page.$$(v.busy)).length > 0 : false;
        if (rows.length && !lacking.length && !working) break;
        if (Date.now() > until) {
          const shot = join(outDir, `${v.name}.failed.png`);
          await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
          const body = (await page.innerText('body').catch(() => '')).replace(/\s+/g, ' ').slice(0, 400);
          throw new Error(
            `${v.name} (${v.url}): ${!rows.length ? `no '${v.rows}' rendered` : lacking.length ? `its rows lack ${lacking.join(', ')}` : `'${v.busy}' still shown`} within ${((v.timeoutMs ?? 60_000) / 1000).toFixed(0)} s; the page shows: ${body} (screenshot ${shot})`,
          );
        }
        await page.waitForTimeout(1000);
        // a listing the server had not loaded yet when the page was served: every 5 s, ask again
        if (tries % 5 === 0) await page.reload({ waitUntil: 'load' });
      }
      const screenshot = join(outDir, `${v.name}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      seen.push({ name: v.name, url: v.url, rows, title: await page.title(), screenshot });
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return seen;
}
