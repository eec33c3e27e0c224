import * as fs from 'fs';
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

// One person of the seeded clinic on their own device: enrolls through their one-time link from
// $E2E_LINK_DIR, then signs in with the passkey and lands on their page. Errors thrown in the
// page (a hydration mismatch panics in the WASM code) are collected in `pageErrors`.
export async function signInAs(
  browser: Browser,
  baseURL: string,
  linkFile: string,
  landing: string,
  pageErrors: string[],
) {
  const link = new URL(fs.readFileSync(path.join(process.env.E2E_LINK_DIR!, linkFile), 'utf8').trim());
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${linkFile}: ${error.message}`));
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
