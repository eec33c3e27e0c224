import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect, Browser, BrowserContext, Page } from '@playwright/test';

// A platform authenticator that verifies the user, as a phone or laptop would.
export async function addPasskeyDevice(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return cdp;
}

export async function hydrated(page: Page) {
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

// Someone opens their enrollment link on their own device, creates a passkey, signs in with it
// and lands on their page. Errors thrown in the page (a hydration mismatch panics in the WASM
// code) are collected in `pageErrors` when given. `prepare` runs on the fresh context before
// its first request (the proxy spec pins it to an app node with a cookie).
export async function enrollAndSignIn(
  browser: Browser,
  baseURL: string,
  link: URL,
  landing: string,
  pageErrors?: string[],
  who = link.pathname,
  prepare?: (context: BrowserContext) => Promise<void>,
) {
  const context = await browser.newContext({ baseURL });
  if (prepare) await prepare(context);
  const page = await context.newPage();
  if (pageErrors) page.on('pageerror', (error) => pageErrors.push(`${who}: ${error.message}`));
  await addPasskeyDevice(context, page);
  await page.goto(link.pathname + link.hash);
  await hydrated(page);
  await page.getByRole('button', { name: 'Create my passkey' }).click();
  await expect(page.locator('#enroll-done')).toBeVisible();
  await page.goto('/sign-in');
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.waitForURL(`**${landing}`);
  await hydrated(page);
  return { context, page };
}

// One person of the seeded clinic, by the file in $E2E_LINK_DIR that holds their link.
export async function signInAs(
  browser: Browser,
  baseURL: string,
  linkFile: string,
  landing: string,
  pageErrors: string[],
  linkDir = process.env.E2E_LINK_DIR!,
  prepare?: (context: BrowserContext) => Promise<void>,
) {
  const link = new URL(fs.readFileSync(path.join(linkDir, linkFile), 'utf8').trim());
  return enrollAndSignIn(browser, baseURL, link, landing, pageErrors, linkFile, prepare);
}

// A server of the spec's own (the same script, seed and release binary as the shared one) on
// `port`, with its links and its operator's environment file in a fresh directory: for specs
// that use up seeded accounts' single-use links, or that need settings of their own (`env`, e.g.
// APP_MONITORING__PERIOD_SECONDS). Returns the directory and a stop function.
export async function ownServer(port: string, env: Record<string, string> = {}) {
  const linkDir = fs.mkdtempSync(path.join(os.tmpdir(), `clinic-e2e-own-${port}-`));
  const server = spawn('bash', [path.join(__dirname, '..', '..', 'scripts', 'e2e-server.sh'), port], {
    env: { ...process.env, ...env, E2E_LINK_DIR: linkDir, E2E_LINK_FILE: path.join(linkDir, 'admin.link') },
    detached: true,
    stdio: process.env.E2E_SERVER_LOGS ? 'inherit' : 'ignore',
  });
  const stop = () => {
    // The script runs the server as its child: end the whole group.
    if (server.pid) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    fs.rmSync(linkDir, { recursive: true, force: true });
  };
  for (let i = 0; i < 170; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (response.ok && fs.existsSync(path.join(linkDir, 'server.env'))) return { linkDir, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  stop();
  throw new Error(`the test server on port ${port} did not become ready`);
}

// A `server` command run on the host by the operator of the server whose links are in
// `linkDir` (scripts/e2e-cli.sh): exit status, stdout and stderr.
export function hostCommand(linkDir: string, args: string[]) {
  const script = path.join(__dirname, '..', '..', 'scripts', 'e2e-cli.sh');
  const result = spawnSync('bash', [script, path.join(linkDir, 'server.env'), ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// The operator prints a fresh enrollment link for account `userId` on the host: how a link
// reaches its person where no mail relay is configured.
export function operatorLink(linkDir: string, userId: string) {
  const file = path.join(linkDir, `operator-${userId}.link`);
  const result = hostCommand(linkDir, ['admin', 'enrollment-link', '--user', userId, '--link-file', file]);
  expect(result.status, result.stderr).toBe(0);
  return new URL(fs.readFileSync(file, 'utf8').trim());
}
