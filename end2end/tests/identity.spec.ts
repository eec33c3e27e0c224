import * as fs from 'fs';
import * as path from 'path';
import { test, expect, Page } from '@playwright/test';
import { addPasskeyDevice, enrollAndSignIn as enrollOnOwnDevice, hostCommand, hydrated, operatorLink, ownServer, signInAs } from './people';

// Someone opens their enrollment link on their own device, creates a passkey and signs in.
async function enrollAndSignIn(admin: Page, link: URL, landing: string) {
  return enrollOnOwnDevice(admin.context().browser()!, `http://localhost:${new URL(admin.url()).port}`, link, landing);
}

// This spec uses up the seeded security officer's link, which the other specs use on the
// shared server, so it has a server of its own, clear of the ports other specs' servers use.
const port = process.env.E2E_IDENTITY_PORT ?? String(Number(process.env.E2E_PORT ?? '3100') + 11);
const baseURL = `http://localhost:${port}`;
let server: { linkDir: string; stop: () => void } | undefined;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  server = await ownServer(port);
});

test.afterAll(() => server?.stop());

test('the bootstrap admin enrolls a passkey, signs in without a user name, and signs out', async ({ browser }) => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const linkDir = server!.linkDir;
  await addPasskeyDevice(context, page);
  const link = new URL(fs.readFileSync(path.join(linkDir, 'admin.link'), 'utf8').trim());

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
  // The admin page is a lazy route: it takes input once its modules are in and it is hydrated.
  await hydrated(page);
  // Signing in gives the session a new id.
  const after = await sessionCookie();
  expect(after?.value).toBeTruthy();
  expect(after?.value).not.toBe(before?.value);
  await expect(page.getByRole('heading', { level: 1, name: 'Administration' })).toBeVisible();
  await expect(page.locator('#signed-in-as')).toContainText('E2E Admin');

  // The admin invites a clinician: the link is not shown to the admin, and nothing happens until
  // a second person approves.
  await page.getByLabel('Role').selectOption('clinician');
  await page.getByLabel('Name', { exact: true }).fill('Dr Synthetic Clinician');
  await page.getByLabel('Email').fill('dr.synthetic@clinic.test');
  await page.getByRole('button', { name: 'Invite' }).click();
  const invited = page.getByRole('region', { name: 'Invite someone' });
  await expect(invited.locator('#account-change')).toContainText('Sent for approval');
  const clinicianId = (await invited.locator('#account-change-user').textContent())!.trim();
  await expect(page.locator('#users-table')).toContainText('Dr Synthetic Clinician');
  expect(await page.content()).not.toContain('/enroll#');
  await expect(page.locator('#account-requests-table')).toContainText('Another person decides');
  // Not even the operator on the host gets a link before the approval.
  const early = hostCommand(linkDir, ['admin', 'enrollment-link', '--user', clinicianId]);
  expect(early.status).not.toBe(0);
  expect(early.stderr).toContain("waits for a second person's approval");

  // The security officer approves it from their queue.
  const sam = await signInAs(browser, baseURL, 'security.link', '/security', [], linkDir);
  const officer = sam.page;
  await expect(officer.locator('#account-requests-table')).toContainText('Dr Synthetic Clinician');
  await officer.getByRole('button', { name: 'Approve for Dr Synthetic Clinician' }).click();
  await expect(officer.locator('#account-requests-empty')).toBeVisible();
  if (process.env.E2E_SCREENSHOTS) await officer.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/approvals.png`, fullPage: true });
  await sam.context.close();

  // The link reaches the clinician out of band (no mail relay here: the operator prints it on
  // the host); they enroll on their own device and see only their pages.
  const invite = operatorLink(linkDir, clinicianId);
  const { context: clinicianContext, page: clinician } = await enrollAndSignIn(page, invite, '/dashboard');
  await expect(clinician.getByRole('heading', { level: 1, name: 'Clinician dashboard' })).toBeVisible();
  await expect(clinician.getByRole('navigation', { name: 'Main' })).not.toContainText('Administration');
  const refused = await clinician.goto('/admin');
  expect(refused?.status()).toBe(403);
  await expect(clinician.getByRole('heading', { name: 'Not allowed' })).toBeVisible();

  // Disabling the clinician ends their open session at once, and their passkey no longer works.
  await page.reload();
  await hydrated(page);
  await page.getByRole('button', { name: 'Disable for Dr Synthetic Clinician' }).click();
  await expect(page.locator('#users-table')).toContainText('disabled');
  await clinician.goto('/dashboard');
  await expect(clinician.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
  await clinician.goto('/sign-in');
  await hydrated(clinician);
  await clinician.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(clinician.getByRole('alert')).toContainText('Sign-in failed');
  await clinicianContext.close();

  // A patient account, linked to the patient's record by MRN: listed by MRN, never by name; its
  // link goes to the patient (here through the operator); the portal, and nothing else.
  await page.getByLabel('Role').selectOption('patient');
  await page.getByLabel('Name', { exact: true }).fill('Synthetic Patient');
  await page.getByLabel("Patient's MRN").fill('E2E-0000009');
  await page.getByRole('button', { name: 'Invite' }).click();
  await expect(invited.locator('#account-change')).toContainText('No mail relay');
  const patientId = (await invited.locator('#account-change-user').textContent())!.trim();
  await expect(page.locator('#users-table')).toContainText('Patient account E2E-0000009');
  await expect(page.locator('#users-table')).not.toContainText('Synthetic Patient');
  const patientInvite = operatorLink(linkDir, patientId);
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
