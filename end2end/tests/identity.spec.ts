import * as fs from 'fs';
import { test, expect, Page } from '@playwright/test';
import { addPasskeyDevice, enrollAndSignIn as enrollOnOwnDevice, hydrated } from './people';

// Someone opens their enrollment link on their own device, creates a passkey and signs in.
async function enrollAndSignIn(admin: Page, link: URL, landing: string) {
  return enrollOnOwnDevice(admin.context().browser()!, `http://localhost:${new URL(admin.url()).port}`, link, landing);
}

test('the bootstrap admin enrolls a passkey, signs in without a user name, and signs out', async ({ page, context }) => {
  await addPasskeyDevice(context, page);
  const link = new URL(fs.readFileSync(process.env.E2E_LINK_FILE!, 'utf8').trim());

  await page.goto(link.pathname + link.hash);
  await hydrated(page);
  await page.getByLabel('Device name').fill('Test laptop');
  await page.getByRole('button', { name: 'Create my passkey' }).click();
  await expect(page.locator('#enroll-done')).toHaveText('Your passkey is ready.');

  const sessionCookie = async () => (await context.cookies()).find((c) => c.name === 'clinic_session');
  const before = await sessionCookie();
  expect(before?.httpOnly).toBe(true);
  expect(before?.sameSite).toBe('Strict');

  await page.getByRole('link', { name: 'Sign in now' }).click();
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.waitForURL('**/admin');
  // Signing in gives the session a new id.
  const after = await sessionCookie();
  expect(after?.value).toBeTruthy();
  expect(after?.value).not.toBe(before?.value);
  await expect(page.getByRole('heading', { level: 1, name: 'Administration' })).toBeVisible();
  await expect(page.locator('#signed-in-as')).toContainText('E2E Admin');

  // The admin invites a clinician, who enrolls on their own device and sees only their pages.
  await page.getByLabel('Role').selectOption('clinician');
  await page.getByLabel('Name').fill('Dr Synthetic Clinician');
  await page.getByRole('button', { name: 'Create enrollment link' }).click();
  const invite = new URL(await page.getByRole('textbox', { name: 'Enrollment link', exact: true }).inputValue());
  await expect(page.locator('#users-table')).toContainText('Dr Synthetic Clinician');

  const { context: clinicianContext, page: clinician } = await enrollAndSignIn(page, invite, '/dashboard');
  await expect(clinician.getByRole('heading', { level: 1, name: 'Clinician dashboard' })).toBeVisible();
  await expect(clinician.getByRole('navigation', { name: 'Main' })).not.toContainText('Administration');
  const refused = await clinician.goto('/admin');
  expect(refused?.status()).toBe(403);
  await expect(clinician.getByRole('heading', { name: 'Not allowed' })).toBeVisible();

  // Disabling the clinician ends their open session at once, and their passkey no longer works.
  await page.getByRole('button', { name: 'Disable for Dr Synthetic Clinician' }).click();
  await expect(page.locator('#users-table')).toContainText('disabled');
  await clinician.goto('/dashboard');
  await expect(clinician.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
  await clinician.goto('/sign-in');
  await hydrated(clinician);
  await clinician.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(clinician.getByRole('alert')).toContainText('Sign-in failed');
  await clinicianContext.close();

  // A patient account, linked to the patient's record by MRN: the portal, and nothing else.
  await page.getByLabel('Role').selectOption('patient');
  await page.getByLabel('Name').fill('Synthetic Patient');
  await page.getByLabel("Patient's MRN").fill('E2E-0000009');
  await page.getByRole('button', { name: 'Create enrollment link' }).click();
  await expect(page.locator('#users-table')).toContainText('Synthetic Patient');
  const patientInvite = new URL(await page.getByRole('textbox', { name: 'Enrollment link', exact: true }).inputValue());
  const { context: patientContext, page: patient } = await enrollAndSignIn(page, patientInvite, '/portal');
  await expect(patient.getByRole('heading', { level: 1, name: 'My record' })).toBeVisible();
  expect((await patient.goto('/admin'))?.status()).toBe(403);
  expect((await patient.goto('/dashboard'))?.status()).toBe(403);
  await patientContext.close();

  // The refusal is in the audit log, and the chain verifies.
  await page.reload();
  await hydrated(page);
  await page.getByLabel('Outcome').selectOption('denied');
  await expect(page.locator('#audit-table')).toContainText('another-roles-page');
  await expect(page.locator('#audit-table')).toContainText('account-not-active');
  await page.getByRole('button', { name: 'Verify chain' }).click();
  await expect(page.locator('#verify-result')).toContainText('Intact');
  if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/admin.png`, fullPage: true });

  // The same link cannot be used twice.
  await page.goto(link.pathname + link.hash);
  await hydrated(page);
  await page.getByRole('button', { name: 'Create my passkey' }).click();
  await expect(page.getByRole('alert')).toContainText('not valid any more');

  // Another role's page is refused.
  const portal = await page.goto('/portal');
  expect(portal?.status()).toBe(403);
  await expect(page.getByRole('heading', { name: 'Not allowed' })).toBeVisible();

  await page.goto('/admin');
  await hydrated(page);
  await page.locator('#sign-out').click();
  await page.waitForURL((url) => url.pathname === '/');
  await expect(page.getByRole('link', { name: 'Sign in' }).first()).toBeVisible();
  // The old page shows no signed-in content once the session is gone.
  await page.goBack();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
});
