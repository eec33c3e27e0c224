import { test, expect } from '@playwright/test';
import { signInAs } from './people';

// The seeded clinic (scripts/e2e-server.sh): patient E2E-0000001 has an account (patient-2) and
// is assigned to Lee Okafor (care-team-clinician); Riley Morgan is an admin at the front desk.
// Follow-up visits may be booked online; every clinician works weekdays in New York hours.

test('a patient books a visit, the clinician sees it in the week, the patient cancels, and online booking can be switched off', async ({ browser, baseURL }) => {
  const pageErrors: string[] = [];

  // The patient books the first open follow-up with their clinician.
  const patient = (await signInAs(browser, baseURL!, 'patient-2.link', '/portal', pageErrors)).page;
  const visits = patient.locator('#my-visits');
  await expect(visits.getByRole('heading', { name: 'My visits' })).toBeVisible();
  await expect(visits).toContainText('You have no upcoming visits.');
  await visits.getByLabel('Kind of visit').selectOption({ label: 'Follow-up visit (30 min)' });
  await visits.getByLabel('Who you want to see').selectOption({ label: 'Lee Okafor, NP' });
  await visits.getByRole('button', { name: 'Show open times' }).click();
  const firstSlot = visits.locator('input[name=slot]').first();
  await expect(firstSlot).toBeVisible();
  const slotStart = new Date(await firstSlot.getAttribute('value') as string);
  await firstSlot.check();
  await visits.getByLabel('Reason for visit').fill('Sore throat for a week');
  await visits.getByRole('button', { name: 'Book visit' }).click();
  await expect(patient.locator('#booking-alert')).toContainText('Booked. Your visit is confirmed.');
  const upcoming = patient.locator('#upcoming-visits li');
  await expect(upcoming).toHaveCount(1);
  await expect(upcoming).toContainText('Follow-up visit with Lee Okafor, NP');
  await expect(upcoming).toContainText('Sore throat for a week');

  // The clinician sees it, with the patient's name, in their week.
  const lee = (await signInAs(browser, baseURL!, 'care-team-clinician.link', '/dashboard', pageErrors)).page;
  const calendar = lee.locator('#clinician-calendar');
  await expect(calendar.getByRole('heading', { name: 'My schedule' })).toBeVisible();
  const monday = (d: Date) => {
    const m = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
    m.setUTCDate(m.getUTCDate() - ((m.getUTCDay() + 6) % 7));
    return m.getTime();
  };
  const weeksAhead = Math.round((monday(slotStart) - monday(new Date())) / (7 * 24 * 3600 * 1000));
  for (let i = 0; i < weeksAhead; i++) {
    await calendar.getByRole('button', { name: 'Next' }).click();
  }
  const card = calendar.locator('.visit-card').first();
  await expect(card).toBeVisible();
  await expect(card).toContainText('Follow-up visit');
  await expect(card).not.toContainText('Busy');
  const hh = String(slotStart.getHours()).padStart(2, '0');
  const mm = String(slotStart.getMinutes()).padStart(2, '0');
  await expect(card).toContainText(`${hh}:${mm}`);

  // The patient cancels with a reason; it moves to past and cancelled visits.
  await upcoming.getByRole('button', { name: 'Cancel this visit' }).click();
  await upcoming.getByLabel('Reason for cancelling').fill('Feeling better already');
  await upcoming.getByRole('button', { name: 'Confirm cancellation' }).click();
  await expect(patient.locator('#past-visits')).toContainText('Cancelled: Feeling better already');
  await expect(visits).toContainText('You have no upcoming visits.');
  await lee.reload();
  for (let i = 0; i < weeksAhead; i++) {
    await lee.locator('#clinician-calendar').getByRole('button', { name: 'Next' }).click();
  }
  await expect(lee.locator('#clinician-calendar .visit-card', { hasText: `${hh}:${mm}` })).toHaveCount(0);

  // The front desk switches online booking off for every kind of visit; the portal then offers
  // no booking at all.
  const desk = (await signInAs(browser, baseURL!, 'front-desk.link', '/admin', pageErrors)).page;
  const switches = desk.locator('#online-booking');
  for (const name of ['Follow-up visit', 'Video visit', 'New patient visit']) {
    const online = switches.getByRole('checkbox', { name: `Patients can book ${name} online` });
    if (await online.isChecked()) {
      await online.uncheck();
      await expect(online).not.toBeChecked();
    }
  }
  // The front desk sees a clinician's weekly hours and adds a clinic holiday.
  const hours = desk.locator('#hours-panel');
  await hours.getByLabel('Clinician').selectOption({ label: 'Lee Okafor, NP' });
  await expect(hours.locator('#hours-table tbody tr')).toHaveCount(10);
  await expect(hours.getByLabel('Start of block 1', { exact: true })).toHaveValue('09:00');
  await hours.getByLabel('From', { exact: true }).fill('2030-12-24T00:00');
  await hours.getByLabel('Until', { exact: true }).fill('2030-12-26T00:00');
  await hours.getByRole('button', { name: 'Add time off' }).click();
  await expect(hours.locator('#time-off-list')).toContainText('Whole clinic');

  await patient.reload();
  await expect(patient.locator('#no-online-booking')).toBeVisible();
  await expect(patient.getByRole('button', { name: 'Show open times' })).toHaveCount(0);

  expect(pageErrors).toEqual([]);
});
