import { test, expect } from '@playwright/test';
import { hydrated, ownServer, signInAs } from './people';

// The seeded clinic (scripts/e2e-server.sh): Dana Reyes is assigned to patient E2E-0000000 and
// Sam Ito is the security officer. This spec uses up their one-time links, so it has a server of
// its own, clear of the ports other specs' servers use.
const MRN = 'E2E-0000000';
const port = process.env.E2E_INCIDENTS_PORT ?? String(Number(process.env.E2E_PORT ?? '3100') + 16);
const baseURL = `http://localhost:${port}`;
let server: { linkDir: string; stop: () => void } | undefined;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  server = await ownServer(port);
});

test.afterAll(() => server?.stop());

const utcMinute = (d: Date) => d.toISOString().slice(0, 16);

test('the security officer opens an incident, completes the assessment, sees the deadlines and downloads a letter; a clinician is refused', async ({ browser }) => {
  test.setTimeout(180_000);
  const pageErrors: string[] = [];
  const linkDir = server!.linkDir;

  // Dana opens her patient's chart: an audit row the incident will find.
  const dana = await signInAs(browser, baseURL, 'clinician.link', '/dashboard', pageErrors, linkDir);
  await dana.page.locator('#my-patients-table tr', { hasText: MRN }).getByRole('link').first().click();
  await expect(dana.page).toHaveURL(/\/dashboard\/patients\/[0-9a-f-]{36}$/);
  const patientId = dana.page.url().split('/').pop()!;

  // A clinician is refused the incident pages.
  await dana.page.goto('/security/incidents');
  await hydrated(dana.page);
  await expect(dana.page.locator('#not-allowed')).toBeVisible();
  await dana.page.goto('/security/incidents/new');
  await expect(dana.page.locator('#not-allowed')).toBeVisible();

  // The security officer opens an incident by hand for Dana's activity in the last hour.
  const sam = await signInAs(browser, baseURL, 'security.link', '/security', pageErrors, linkDir);
  const officer = sam.page;
  await officer.goto('/security/incidents/new');
  await hydrated(officer);
  await officer.getByLabel('Title').fill('Chart read without a visit');
  const dana_option = officer.locator('#incident-subject option', { hasText: 'Dana Reyes' });
  await expect(dana_option).toHaveCount(1);
  await officer.getByLabel('Whose activity').selectOption(await dana_option.getAttribute('value'));
  const now = Date.now();
  await officer.getByLabel('Window start (UTC)').fill(utcMinute(new Date(now - 60 * 60 * 1000)));
  await officer.getByLabel('Window end (UTC)').fill(utcMinute(new Date(now + 60 * 60 * 1000)));
  await officer.getByRole('button', { name: 'Open incident' }).click();
  await expect(officer).toHaveURL(/\/security\/incidents\/[0-9a-f-]{36}$/);
  await hydrated(officer);
  // Every patient whose PHI Dana's pages showed in the window (her day's calendar too), this
  // chart among them.
  await expect(officer.locator('#affected-count')).toContainText(/^[1-9]\d* patients? /);
  const row = officer.locator('#affected-patients li', { hasText: patientId });
  await expect(row).toBeVisible();

  // Opening the patient shows the name and address for the notice.
  await row.getByRole('button', { name: `Open patient ${patientId}` }).click();
  await expect(row.locator('address.recipient')).toBeVisible();
  const name = (await row.locator('address.recipient').innerText()).split('\n')[0].trim();

  // The decision is refused while a factor is missing.
  await officer.getByLabel('Your name, date of birth and sex', { exact: false }).check();
  await officer.getByLabel(/Nature and extent/).fill('One chart opened in full');
  await officer.getByLabel('Who used the PHI or received it').fill('A clinician without a visit');
  await officer.getByRole('button', { name: 'Save assessment' }).click();
  await expect(officer.locator('#assessment-alert')).toContainText('Assessment saved.');
  await officer.getByLabel('Breach', { exact: true }).check();
  await officer.getByRole('button', { name: 'Record decision' }).click();
  await expect(officer.locator('#decision-alert')).toContainText('factor 3');

  // All four factors and the encryption question, then the decision.
  await officer.getByLabel('Viewed only').check();
  await officer.getByLabel('The extent to which the risk has been mitigated').fill('Access removed, retraining');
  await officer.locator('#encrypted-at-rest-no').check();
  await officer.locator('#keys-compromised-no').check();
  await expect(officer.locator('#safe-harbor')).toContainText('The PHI was unsecured');
  await officer.getByRole('button', { name: 'Save assessment' }).click();
  await expect(officer.locator('#assessment-alert')).toContainText('Assessment saved.');
  await officer.getByLabel('Breach', { exact: true }).check();
  await officer.getByRole('button', { name: 'Record decision' }).click();
  await expect(officer.locator('#incident-decision')).toHaveText('Breach');

  // The deadlines, as countdowns: 60 days for the notices.
  const deadlines = officer.locator('#incident-deadlines');
  await expect(deadlines.locator('li[data-kind="individuals"]')).toContainText(/(59|60) days left/);
  await expect(deadlines.locator('li[data-kind="hhs"]')).toContainText('under 500 affected');

  // One notification letter, downloaded.
  const [download] = await Promise.all([
    officer.waitForEvent('download'),
    officer.locator('#affected-patients li', { hasText: patientId }).getByRole('link', { name: /Download the letter/ }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`breach-notice-${patientId}.html`);
  const stream = await download.createReadStream();
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const letter = Buffer.concat(chunks).toString('utf8');
  expect(letter).toContain('Notice of a breach of your health information');
  // The letter is HTML, so a name such as O'Hara arrives escaped.
  expect(letter).toContain(htmlEscaped(name));
  for (const heading of ['What happened', 'What information was involved', 'What you can do', 'What we are doing', 'For more information']) {
    expect(letter).toContain(heading);
  }
  expect(letter).toContain('Toll-free telephone');
  await officer.reload();
  await hydrated(officer);
  await expect(officer.locator('#affected-patients li', { hasText: patientId })).toContainText('Letter downloaded');

  await sam.context.close();
  await dana.context.close();
  expect(pageErrors).toEqual([]);
});

function htmlEscaped(text: string) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
