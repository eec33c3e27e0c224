import { test, expect, Page } from '@playwright/test';
import { hydrated, ownServer, signInAs } from './people';

// Security monitoring end to end: a burst of chart reads by one clinician raises a bulk-access
// alert within a detector period; the security officer finds it in the inbox, opens the audit
// rows behind it and goes on to open an incident from it; a clinician is refused the inbox.
//
// The spec has a server of its own with a low threshold and a short detector period (5 s, the least the settings allow), so four
// chart reads are a burst and the alert appears within seconds. In the seeded clinic Dana Reyes
// (clinician.link) is assigned to, or on the care team of, seven of the ten patients.
const port = process.env.E2E_MONITORING_PORT ?? String(Number(process.env.E2E_PORT ?? '3100') + 15);
const baseURL = `http://localhost:${port}`;
const THRESHOLD = 3;
const CHARTS = 4;
let server: { linkDir: string; stop: () => void } | undefined;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  server = await ownServer(port, {
    APP_MONITORING__RULES__BULK_ACCESS__THRESHOLD: String(THRESHOLD),
    APP_MONITORING__RULES__BULK_ACCESS__WINDOW_MINUTES: '10',
    APP_MONITORING__PERIOD_SECONDS: '5',
  });
});

test.afterAll(() => server?.stop());

// The inbox filtered to one rule, reloaded until a row of that rule shows (the detector runs
// every period; the page shows what is there when it loads).
async function waitForAlert(page: Page, rule: string) {
  const row = page.locator(`#alerts-table tr[data-rule="${rule}"]`);
  await expect(async () => {
    await page.goto(`/security/alerts?rule=${rule}`);
    await hydrated(page);
    await expect(row.first()).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 45_000, intervals: [1_000, 2_000] });
  return row.first();
}

test('a burst of chart reads raises an alert the security officer reviews, turns into an incident, assesses and notifies; a clinician is refused the inbox', async ({ browser }) => {
  test.setTimeout(180_000);
  const pageErrors: string[] = [];
  const linkDir = server!.linkDir;

  // The officer signs in first: the inbox has no bulk-access alert yet.
  const sam = await signInAs(browser, baseURL, 'security.link', '/security', pageErrors, linkDir);
  const officer = sam.page;
  await expect(officer.getByRole('heading', { level: 2, name: 'Alerts' })).toBeVisible();
  await officer.goto('/security/alerts?rule=bulk-access');
  await hydrated(officer);
  await expect(officer.locator('#alerts-empty')).toBeVisible();

  // The clinician opens four different charts from "My patients", one after the other.
  const dana = await signInAs(browser, baseURL, 'clinician.link', '/dashboard', pageErrors, linkDir);
  const clinician = dana.page;
  const opened: string[] = [];
  for (let i = 0; i < CHARTS; i++) {
    await clinician.goto('/dashboard');
    await hydrated(clinician);
    await clinician.locator('#my-patients-table tbody tr').nth(i).getByRole('link').click();
    await expect(clinician).toHaveURL(/\/dashboard\/patients\/[0-9a-f-]{36}$/);
    await expect(clinician.getByRole('heading', { level: 2, name: 'Vital signs' })).toBeVisible();
    opened.push(clinician.url().split('/').pop()!);
  }
  expect(new Set(opened).size).toBe(CHARTS);

  // Within a detector period or two the officer's inbox shows the bulk-access alert.
  const row = await waitForAlert(officer, 'bulk-access');
  await expect(row).toContainText('Dana Reyes, MD');
  await expect(row).toContainText('Open');
  await row.getByRole('link').first().click();
  await expect(officer).toHaveURL(/\/security\/alerts\/[0-9a-f-]{36}$/);
  await hydrated(officer);
  const alertId = officer.url().split('/').pop()!;
  await expect(officer.locator('#alert-rule')).toHaveText('bulk-access');
  await expect(officer.locator('#alert-actor')).toContainText('Dana Reyes, MD');
  await expect(officer.locator('#alert-status')).toHaveText('Open');
  // The patients concerned are charts the clinician opened, by id only: all four, or the first
  // three if a detector run fell between the third read and the fourth (the threshold is 3).
  const patients = (await officer.locator('#alert-patients li').allTextContents()).map((t) => t.trim());
  expect(patients.length).toBeGreaterThanOrEqual(THRESHOLD);
  expect(opened).toEqual(expect.arrayContaining(patients));
  expect(Number(await officer.locator('#alert-observed').textContent())).toBe(patients.length);

  // One click opens the audit rows behind it: the clinician's chart reads of those patients.
  await expect(officer.locator('#alert-events')).toBeHidden();
  await officer.locator('#alert-events-toggle').click();
  await expect(officer.locator('#alert-events')).toBeVisible();
  const reads = officer.locator('#alert-events tbody tr', { hasText: 'chart.read' });
  const readPatients = new Set<string>();
  for (const cells of await reads.all()) {
    readPatients.add((await cells.locator('td').nth(6).textContent())!.trim());
  }
  expect([...readPatients].sort()).toEqual([...patients].sort());
  // No PHI on the page: the clinician's patients appear by id, never by name or MRN.
  expect(await officer.locator('#main').textContent()).not.toMatch(/E2E-\d{7}/);

  // The way to an incident: the link carries the alert.
  const incident = officer.getByRole('link', { name: 'Open incident' });
  await expect(incident).toHaveAttribute('href', `/security/incidents/new?alert=${alertId}`);

  // The officer's home counts it.
  await officer.goto('/security');
  await hydrated(officer);
  await expect(officer.locator('#open-alerts-link')).not.toHaveText('0 open');

  // A clinician is refused the inbox and the alert, with a clear message and no alert shown.
  for (const path of ['/security/alerts', `/security/alerts/${alertId}`]) {
    await clinician.goto(path);
    await hydrated(clinician);
    await expect(clinician.locator('#not-allowed')).toBeVisible();
    await expect(clinician.getByRole('heading', { level: 1, name: 'Not allowed' })).toBeVisible();
    await expect(clinician.locator('#alerts-table, #alert-detail')).toHaveCount(0);
  }

  // The officer goes on to open an incident from the alert.
  await officer.goto(`/security/alerts/${alertId}`);
  await hydrated(officer);
  await officer.getByRole('link', { name: 'Open incident' }).click();
  await expect(officer).toHaveURL(new RegExp(`/security/incidents/new\\?alert=${alertId}$`));
  await hydrated(officer);
  await expect(officer.locator('#incident-from-alerts li')).toHaveText([alertId]);
  await officer.getByLabel('Title').fill('Burst of chart reads');
  await officer.getByRole('button', { name: 'Open incident' }).click();
  await expect(officer).toHaveURL(/\/security\/incidents\/[0-9a-f-]{36}$/);
  await hydrated(officer);
  await expect(officer.locator('#incident-alerts')).toContainText('bulk-access');
  // The affected patients, computed from the audit log for that actor and window: the charts
  // the burst opened (ids only until one is opened for its notice).
  const affected = (await officer.locator('#affected-patients li').allTextContents()).join(' ');
  for (const id of patients) expect(affected).toContain(id);

  // The four-factor assessment, then the decision, and one notification letter.
  await officer.getByLabel('Your name, date of birth and sex', { exact: false }).check();
  await officer.getByLabel(/Nature and extent/).fill('Charts opened in full, no visit behind them');
  await officer.getByLabel('Who used the PHI or received it').fill('A clinician of the clinic');
  await officer.getByLabel('Viewed only').check();
  await officer.getByLabel('The extent to which the risk has been mitigated').fill('Account disabled, access reviewed');
  await officer.locator('#encrypted-at-rest-no').check();
  await officer.locator('#keys-compromised-no').check();
  await officer.getByRole('button', { name: 'Save assessment' }).click();
  await expect(officer.locator('#assessment-alert')).toContainText('Assessment saved.');
  await officer.getByLabel('Breach', { exact: true }).check();
  await officer.getByRole('button', { name: 'Record decision' }).click();
  await expect(officer.locator('#incident-decision')).toHaveText('Breach');
  const first = patients[0];
  const [download] = await Promise.all([
    officer.waitForEvent('download'),
    officer.locator('#affected-patients li', { hasText: first }).getByRole('link', { name: /Download the letter/ }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`breach-notice-${first}.html`);
  const chunks: Buffer[] = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk as Buffer);
  expect(Buffer.concat(chunks).toString('utf8')).toContain('Notice of a breach of your health information');

  await dana.context.close();
  await sam.context.close();
  expect(pageErrors).toEqual([]);
});
