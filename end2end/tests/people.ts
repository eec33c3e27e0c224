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

// Someone opens their enrollment link on their own device, creates a passkey, signs in with it
// and lands on their page. Errors thrown in the page (a hydration mismatch panics in the WASM
// code) are collected in `pageErrors` when given.
export async function enrollAndSignIn(
  browser: Browser,
  baseURL: string,
  link: URL,
  landing: string,
  pageErrors?: string[],
  who = link.pathname,
) {
  const context = await browser.newContext({ baseURL });
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
) {
  const link = new URL(fs.readFileSync(path.join(linkDir, linkFile), 'utf8').trim());
  return enrollAndSignIn(browser, baseURL, link, landing, pageErrors, linkFile);
}
