import { test, expect } from '@playwright/test';
import { hydrated, signInAs } from './people';

// The seeded clinic (scripts/e2e-server.sh): Dana Reyes is assigned to patient E2E-0000000, Omar
// Haddad has no relationship to them, Sam Ito is the security officer, and the patient has an
// account. Each has a one-time enrollment link in $E2E_LINK_DIR.
const MRN = 'E2E-0000000';

test('a vital sign, the patient seeing it and who looked, and emergency access reviewed', async ({ browser, baseURL }) => {
  // Errors thrown in any page (a hydration mismatch panics in the WASM code), checked at the end.
  const pageErrors: string[] = [];

  // The assigned clinician opens the patient's chart from "My patients" and records vital signs.
  const dana = await signInAs(browser, baseURL!, 'clinician.link', '/dashboard', pageErrors);
  const clinician = dana.page;
  await expect(clinician.getByRole('heading', { level: 2, name: 'My patients' })).toBeVisible();
  const row = clinician.locator('#my-patients-table tr', { hasText: MRN });
  await expect(row).toContainText('Assigned clinician');
  await row.getByRole('link').click();
  await expect(clinician).toHaveURL(/\/dashboard\/patients\/[0-9a-f-]{36}$/);
  await expect(clinician.getByRole('heading', { level: 2, name: 'Vital signs' })).toBeVisible();
  await expect(clinician.locator('#emergency-banner')).toHaveCount(0);
  // Validation in the browser names the field before anything is sent.
  await clinician.getByLabel('Systolic (mmHg)').fill('131');
  await clinician.getByRole('button', { name: 'Save entry' }).click();
  await expect(clinician.locator('#entry-alert')).toContainText('Blood pressure: needs both systolic and diastolic');
  await clinician.getByLabel('Diastolic (mmHg)').fill('84');
  await clinician.getByLabel('Heart rate (bpm)').fill('77');
  await clinician.getByLabel('SpO₂ (%)').fill('97');
  await clinician.getByRole('button', { name: 'Save entry' }).click();
  await expect(clinician.getByRole('status').filter({ hasText: 'Entry saved.' })).toBeVisible();
  const newest = clinician.locator('#table-vital tbody tr').first();
  await expect(newest).toContainText('131/84');
  await expect(newest).toContainText('77');
  await expect(newest).toContainText('Dana Reyes, MD');
  await expect(clinician.getByRole('img', { name: 'Vital signs over time' })).toBeVisible();
  // The same page after a full load, rendered on the server and hydrated.
  await clinician.reload();
  await hydrated(clinician);
  await expect(clinician.locator('#table-vital tbody tr').first()).toContainText('131/84');
  // Two tabs edit the same entry: the later save is refused as stale, with a way to reload.
  const secondTab = await dana.context.newPage();
  await secondTab.goto(clinician.url());
  await hydrated(secondTab);
  await clinician.locator('#table-vital tbody tr').first().getByRole('button', { name: /^Edit/ }).click();
  await expect(clinician.getByRole('heading', { name: 'Edit vital signs' })).toBeFocused();
  await expect(clinician.getByLabel('Heart rate (bpm)')).toHaveValue('77');
  await secondTab.locator('#table-vital tbody tr').first().getByRole('button', { name: /^Edit/ }).click();
  await secondTab.getByLabel('Heart rate (bpm)').fill('78');
  await secondTab.getByRole('button', { name: 'Save entry' }).click();
  await expect(secondTab.getByRole('status').filter({ hasText: 'Entry updated.' })).toBeVisible();
  await clinician.getByLabel('Heart rate (bpm)').fill('79');
  await clinician.getByRole('button', { name: 'Save entry' }).click();
  await expect(clinician.locator('#entry-alert')).toContainText('changed by someone else');
  await clinician.getByRole('button', { name: 'Reload the chart' }).click();
  await expect(clinician.locator('#table-vital tbody tr').first().locator('td').nth(1)).toHaveText('78');
  await expect(clinician.getByRole('heading', { name: 'Add entry' })).toBeVisible();
  if (process.env.E2E_SCREENSHOTS) await clinician.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/chart.png`, fullPage: true });
  await dana.context.close();

  // The patient sees the new vital on their record, and who opened it.
  const patientSession = await signInAs(browser, baseURL!, 'patient.link', '/portal', pageErrors);
  const patient = patientSession.page;
  await expect(patient.getByRole('heading', { level: 1, name: 'My record' })).toBeVisible();
  await expect(patient.locator('#table-vital tbody tr').first()).toContainText('131/84');
  await expect(patient.getByRole('button', { name: /^Edit/ })).toHaveCount(0);
  await expect(patient.getByRole('heading', { level: 2, name: 'Who looked at my record' })).toBeVisible();
  const looked = patient.locator('#who-looked-table tbody tr', { hasText: 'Dana Reyes, MD' });
  await expect(looked.filter({ hasText: 'Opened your chart' }).first()).toBeVisible();
  await expect(looked.filter({ hasText: 'Added to your chart' }).first()).toBeVisible();
  await expect(patient.locator('#care-team-table')).toContainText('Dana Reyes, MD');

  // A clinician with no relationship finds the patient, is refused the chart, and declares an
  // emergency to get in.
  const omar = await signInAs(browser, baseURL!, 'other-clinician.link', '/dashboard', pageErrors);
  const other = omar.page;
  await other.getByLabel('MRN').fill(MRN);
  await other.getByRole('button', { name: 'Search' }).click();
  const found = other.locator('#search-results-table tbody tr', { hasText: MRN });
  await expect(found).toHaveCount(1);
  await found.getByRole('link', { name: /Open chart/ }).click();
  await expect(other.getByRole('heading', { name: 'You have no care relationship with this patient' })).toBeVisible();
  await expect(other.locator('#table-vital')).toHaveCount(0);
  await other.getByRole('button', { name: 'Declare emergency access' }).click();
  await expect(other.locator('#break-glass-alert')).toContainText('10 to 1000 characters');
  const reason = 'Unconscious in the emergency department, assigned clinician unreachable';
  await other.getByLabel('Reason for emergency access').fill(reason);
  await other.getByRole('button', { name: 'Declare emergency access' }).click();
  await expect(other.locator('#emergency-banner')).toContainText(/Emergency access until \d{2}:\d{2}/);
  if (process.env.E2E_SCREENSHOTS) await other.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/break-glass.png` });
  await expect(other.locator('#table-vital tbody tr').first()).toContainText('131/84');
  // The banner stays on every load of the chart while the access lasts.
  await other.reload();
  await hydrated(other);
  await expect(other.locator('#emergency-banner')).toContainText(/Emergency access until \d{2}:\d{2}/);
  await omar.context.close();

  // The security officer sees the declaration waiting and records an outcome.
  const sam = await signInAs(browser, baseURL!, 'security.link', '/security', pageErrors);
  const officer = sam.page;
  const pending = officer.locator('#break-glass-pending > li', { hasText: reason });
  if (process.env.E2E_SCREENSHOTS) await officer.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/security.png`, fullPage: true });
  await expect(pending).toContainText('Omar Haddad, MD');
  await pending.getByLabel('Justified', { exact: true }).check();
  await pending.getByLabel('Note').fill('Confirmed with the emergency department.');
  await pending.getByRole('button', { name: 'Record outcome' }).click();
  await expect(officer.locator('#break-glass-pending > li', { hasText: reason })).toHaveCount(0);
  const reviewed = officer.locator('#break-glass-reviewed tbody tr', { hasText: reason });
  await expect(reviewed).toContainText('Omar Haddad, MD');
  await expect(reviewed).toContainText('Justified');
  // The declaration's alert is in the inbox like any other, closed by the review.
  await officer.goto('/security/alerts?rule=break_glass');
  await hydrated(officer);
  const alert = officer.locator('#alerts-table tbody tr', { hasText: 'Omar Haddad, MD' }).first();
  await expect(alert).toContainText('Emergency access declared');
  await expect(alert).toContainText('Closed');
  await sam.context.close();

  // The patient's access history shows the emergency access as such, in words.
  await patient.reload();
  await hydrated(patient);
  const emergency = patient.locator('#who-looked-table tbody tr', { hasText: 'Omar Haddad, MD' });
  await expect(emergency.filter({ hasText: 'Declared emergency access' }).first()).toBeVisible();
  // Once hydrated, every time is shown on the viewer's clock rather than in UTC.
  await expect(patient.locator('#who-looked-table time').last()).not.toContainText('UTC');
  await expect(emergency.filter({ hasText: 'Opened your chart' }).getByText('Emergency access', { exact: true }).first()).toBeVisible();
  if (process.env.E2E_SCREENSHOTS) await patient.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/portal.png`, fullPage: true });
  // Each view of the portal reads the history once, so it adds exactly one row to it.
  const historyReads = async () => {
    await patient.reload();
    await hydrated(patient);
    return patient.locator('#who-looked-table tbody tr', { hasText: 'Viewed this access history' }).count();
  };
  const before = await historyReads();
  expect(await historyReads()).toBe(before + 1);
  // The patient gives a clinician access of their own, and takes it back.
  await patient.getByLabel('Clinician').selectOption({ label: 'Omar Haddad, MD' });
  await patient.getByRole('button', { name: 'Grant access' }).click();
  const consent = patient.locator('#care-team-table tbody tr', { hasText: 'Omar Haddad, MD' });
  await expect(consent).toContainText('You gave access');
  await consent.getByRole('button', { name: 'Revoke access of Omar Haddad, MD' }).click();
  await expect(consent).toHaveCount(0);
  await patientSession.context.close();
  expect(pageErrors).toEqual([]);
});
