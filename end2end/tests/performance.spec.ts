import { test, expect, BrowserContext } from '@playwright/test';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hydrated, ownServer, signInAs } from './people';

// How fast the pages are, as budgets that fail CI:
// - each route's JavaScript and WASM, gzip bytes, fetched before the page is interactive (the
//   `data-hydrated` flag, which the page's `PageReady` sets once it is hydrated), at most
//   ROUTE_BUDGET_KB;
// - Lighthouse 12.2.3 (mobile emulation and simulated throttling, its defaults) on the sign-in
//   page, the patient portal and a clinician's chart: performance at least
//   LIGHTHOUSE_MIN_PERFORMANCE, accessibility and best practices at least LIGHTHOUSE_MIN_SCORE.
// The defaults hold today's figures with a margin, so that a regression fails CI. They are not
// yet issue 15's targets (350 KB a route, performance 95); see the README's "Page weight".
// The sizes are those of the `.gz` files the release build wrote next to each asset, which is
// what a browser that takes gzip is sent; Chromium itself is sent brotli, which is smaller.
const port = process.env.E2E_PERFORMANCE_PORT ?? String(Number(process.env.E2E_PORT ?? '3100') + 24);
const baseURL = `http://localhost:${port}`;
const siteRoot = path.join(__dirname, '..', '..', 'target', 'site');
const routeBudgetBytes = Number(process.env.ROUTE_BUDGET_KB ?? '950') * 1000;
const minimumScore = Number(process.env.LIGHTHOUSE_MIN_SCORE ?? '95');
// Simulated throttling varies from run to run on a busy 2-core machine (the chart scored 58,
// 69 and 75 in three runs), so each page runs LIGHTHOUSE_RUNS times (3) and the median counts,
// as Lighthouse's own guidance on variability advises.
const minimumPerformance = Number(process.env.LIGHTHOUSE_MIN_PERFORMANCE ?? '50');
const lighthouseRuns = Number(process.env.LIGHTHOUSE_RUNS ?? '3');
const lighthouseBin = path.join(__dirname, '..', 'node_modules', '.bin', 'lighthouse');

let server: { linkDir: string; stop: () => void } | undefined;
// The signed-in people, each in a browser context of their own, and the paths found on the way.
let patient: BrowserContext;
let clinician: BrowserContext;
let officer: BrowserContext;
let admin: BrowserContext;
let chartPath = '';
let visitPath = '';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(240_000);
  server = await ownServer(port);
  const linkDir = server.linkDir;
  const pageErrors: string[] = [];
  const p = await signInAs(browser, baseURL, 'patient.link', '/portal', pageErrors, linkDir);
  patient = p.context;
  const join = p.page.locator('#upcoming-visits li', { hasText: 'Video visit' }).getByRole('link', { name: 'Join video visit' });
  visitPath = new URL((await join.getAttribute('href'))!, baseURL).pathname;
  const c = await signInAs(browser, baseURL, 'clinician.link', '/dashboard', pageErrors, linkDir);
  clinician = c.context;
  chartPath = new URL(
    (await c.page.locator('#my-patients-table tbody tr').first().getByRole('link').getAttribute('href'))!,
    baseURL,
  ).pathname;
  officer = (await signInAs(browser, baseURL, 'security.link', '/security', pageErrors, linkDir)).context;
  admin = (await signInAs(browser, baseURL, 'admin.link', '/admin', pageErrors, linkDir)).context;
  expect(pageErrors).toEqual([]);
});

test.afterAll(() => server?.stop());

// The gzip bytes of one asset under /pkg, from the file the release build precompressed.
function gzipBytes(pathname: string): number {
  const file = path.join(siteRoot, `${pathname}.gz`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run cargo leptos build --release --split --precompress`);
  return fs.statSync(file).size;
}

// Opens `route` with an empty cache and returns the JavaScript and WASM files it fetched until
// the page said it was hydrated, with their gzip sizes.
async function initialAssets(context: BrowserContext, route: string, pageErrors: string[]) {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${route}: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const fetched = new Set<string>();
  let interactive = false;
  page.on('request', (request) => {
    const { pathname } = new URL(request.url());
    if (!interactive && pathname.startsWith('/pkg/') && /\.(js|wasm)$/.test(pathname)) fetched.add(pathname);
  });
  await page.goto(route);
  await hydrated(page);
  interactive = true;
  await page.close();
  return [...fetched].sort().map((file) => ({ file, bytes: gzipBytes(file) }));
}

test('every route loads at most its budget of JavaScript and WASM before it is interactive', async ({ browser }) => {
  test.setTimeout(180_000);
  const anonymous = await browser.newContext({ baseURL });
  const routes: [string, BrowserContext, string][] = [
    ['home', anonymous, '/'],
    ['sign-in', anonymous, '/sign-in'],
    ['patient portal', patient, '/portal'],
    ['patient messages', patient, '/portal/messages'],
    ['video visit', patient, visitPath],
    ['account', patient, '/account'],
    ['clinician dashboard', clinician, '/dashboard'],
    ['clinician chart', clinician, chartPath],
    ['clinician messages', clinician, '/dashboard/messages'],
    ['admin', admin, '/admin'],
    ['security overview', officer, '/security'],
    ['alert inbox', officer, '/security/alerts'],
    ['incident register', officer, '/security/incidents'],
  ];
  const pageErrors: string[] = [];
  const over: string[] = [];
  const lines = [`route sizes (gzip, before interactive; budget ${routeBudgetBytes} bytes)`];
  for (const [name, context, route] of routes) {
    const assets = await initialAssets(context, route, pageErrors);
    const total = assets.reduce((sum, asset) => sum + asset.bytes, 0);
    const js = assets.filter((asset) => asset.file.endsWith('.js')).reduce((sum, asset) => sum + asset.bytes, 0);
    const wasmFiles = assets.filter((asset) => asset.file.endsWith('.wasm')).length;
    lines.push(`  ${name.padEnd(20)} ${String(total).padStart(8)} bytes  (JavaScript ${js}; WASM ${total - js} in ${wasmFiles} modules)`);
    // A route that loaded no WASM at all was not measured: the count would pass for nothing.
    expect(wasmFiles, `${name} loaded no WASM`).toBeGreaterThan(0);
    if (total > routeBudgetBytes) over.push(`${name}: ${total} bytes`);
  }
  console.log(lines.join('\n'));
  await anonymous.close();
  expect(pageErrors).toEqual([]);
  expect(over, `routes over the budget of ${routeBudgetBytes} bytes`).toEqual([]);
});

// Lighthouse itself sometimes fails to record a trace (NO_NAVSTART, "Please run Lighthouse
// again"); such a run says nothing about the page, so it is run again, at most twice.
function lighthouse(url: string, cookies: string) {
  let result;
  for (let attempt = 1; !result; attempt++) {
    try {
      result = lighthouseReport(url, cookies);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof LighthouseRuntimeError)) throw error;
      console.log(`lighthouse on ${url}: ${error.message.split('\n')[0]}; running it again`);
    }
  }
  const score = (category: string) => Math.round((result.categories[category]?.score ?? 0) * 100);
  const failing = Object.values(result.audits as Record<string, any>)
    .filter((audit) => typeof audit.score === 'number' && audit.score < 0.9 && audit.scoreDisplayMode !== 'informative')
    .map((audit) => audit.id);
  return {
    finalUrl: result.finalDisplayedUrl as string,
    performance: score('performance'),
    accessibility: score('accessibility'),
    bestPractices: score('best-practices'),
    failing,
  };
}

// One Lighthouse run in its own headless Chromium, signed in through the context's cookies.
function lighthouseReport(url: string, cookies: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinic-lighthouse-'));
  try {
    const report = path.join(dir, 'report.json');
    const headers = path.join(dir, 'headers.json');
    fs.writeFileSync(headers, JSON.stringify(cookies ? { Cookie: cookies } : {}));
    const run = spawnSync(
      lighthouseBin,
      [
        url,
        '--quiet',
        '--output=json',
        `--output-path=${report}`,
        '--only-categories=performance,accessibility,best-practices',
        `--extra-headers=${headers}`,
        '--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run',
      ],
      { encoding: 'utf8', env: { ...process.env, CHROME_PATH: '/usr/bin/chromium' }, timeout: 150_000 },
    );
    if (run.status !== 0 || !fs.existsSync(report)) {
      const message = `lighthouse failed on ${url} (status ${run.status}): ${run.stderr}`;
      if (/Runtime error encountered/.test(run.stderr ?? '')) throw new LighthouseRuntimeError(message);
      throw new Error(message);
    }
    return JSON.parse(fs.readFileSync(report, 'utf8'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

class LighthouseRuntimeError extends Error {}

async function cookieHeader(context: BrowserContext) {
  return (await context.cookies(baseURL)).map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
}

test('Lighthouse scores the sign-in page, the patient portal and a clinician chart within budget', async () => {
  test.setTimeout(900_000);
  const pages: [string, BrowserContext | undefined, string][] = [
    ['sign-in', undefined, '/sign-in'],
    ['patient portal', patient, '/portal'],
    ['clinician chart', clinician, chartPath],
  ];
  const lines = [
    `Lighthouse 12.2.3, mobile (budget: performance >= ${minimumPerformance}, accessibility and best practices >= ${minimumScore})`,
  ];
  const below: string[] = [];
  for (const [name, context, route] of pages) {
    const cookies = context ? await cookieHeader(context) : '';
    const runs = Array.from({ length: lighthouseRuns }, () => lighthouse(`${baseURL}${route}`, cookies));
    // A signed-out browser would be sent to the sign-in page and score that page instead.
    for (const run of runs) expect(new URL(run.finalUrl).pathname, `${name} was redirected`).toBe(route);
    runs.sort((a, b) => a.performance - b.performance);
    const scores = runs[Math.floor(runs.length / 2)];
    lines.push(
      `  ${name.padEnd(16)} performance ${scores.performance} (median of ${runs.map((run) => run.performance).join(', ')})  accessibility ${scores.accessibility}  best practices ${scores.bestPractices}` +
        (scores.failing.length ? `  (below 0.9: ${scores.failing.join(', ')})` : ''),
    );
    if (scores.performance < minimumPerformance) below.push(`${name} performance ${scores.performance}`);
    if (scores.accessibility < minimumScore) below.push(`${name} accessibility ${scores.accessibility}`);
    if (scores.bestPractices < minimumScore) below.push(`${name} best practices ${scores.bestPractices}`);
  }
  console.log(lines.join('\n'));
  expect(below, 'Lighthouse scores below the budget').toEqual([]);
});
