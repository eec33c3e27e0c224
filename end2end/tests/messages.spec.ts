import { test, expect } from '@playwright/test';
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { enrollAndSignIn, hydrated } from './people';

// Secure messaging in the seeded clinic: the patient of E2E-0000000 writes to their care team
// with a small PNG; Dana Reyes (their assigned clinician) sees it unread, opens it, downloads the
// picture and answers; the patient sees the answer; Omar Haddad (no relationship) is refused the
// thread by its address.
//
// Enrollment links are single-use and the other specs use the shared server's, so this spec
// starts its own server (the same script, seed and release binary) on its own port and links.
// Clear of the shared server's port and the few after it that other specs' servers use.
const port = process.env.E2E_MESSAGES_PORT ?? String(Number(process.env.E2E_PORT ?? '3100') + 7);
const baseURL = `http://localhost:${port}`;
const linkDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinic-e2e-messages-links-'));
let server: ChildProcess | undefined;

// A 1x1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

test.beforeAll(async () => {
  test.setTimeout(180_000);
  server = spawn('bash', [path.join(__dirname, '..', '..', 'scripts', 'e2e-server.sh'), port], {
    env: { ...process.env, E2E_LINK_DIR: linkDir, E2E_LINK_FILE: path.join(linkDir, 'admin.link') },
    detached: true,
    stdio: process.env.E2E_SERVER_LOGS ? 'inherit' : 'ignore',
  });
  for (let i = 0; i < 170; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (response.ok && fs.existsSync(path.join(linkDir, 'patient.link'))) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`the messaging test server on port ${port} did not become ready`);
});

test.afterAll(async () => {
  // The script runs the server as its child: end the whole group.
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  fs.rmSync(linkDir, { recursive: true, force: true });
});

function link(file: string) {
  return new URL(fs.readFileSync(path.join(linkDir, file), 'utf8').trim());
}

test('a patient writes to the care team, the assigned clinician reads and answers, and a clinician outside it is refused', async ({ browser }) => {
  const pageErrors: string[] = [];
  const subject = 'Rash after the new cream';
  const question = 'The rash on my arm itches since Tuesday. Photo attached.';
  const answer = 'Please stop the cream; this looks like contact dermatitis.';

  // The patient writes from the portal, with a picture.
  const patientSession = await enrollAndSignIn(browser, baseURL, link('patient.link'), '/portal', pageErrors, 'patient');
  const patient = patientSession.page;
  await patient.getByRole('link', { name: 'Messages' }).first().click();
  await expect(patient).toHaveURL(/\/portal\/messages$/);
  await hydrated(patient);
  await expect(patient.locator('#no-threads')).toBeVisible();
  // Sending without a message names the field before anything is sent.
  await patient.getByLabel('Subject').fill(subject);
  await patient.getByRole('button', { name: 'Send message' }).click();
  await expect(patient.locator('#new-message-alert')).toContainText('Message: please write a message');
  await patient.getByLabel('Message', { exact: true }).fill(question);
  await patient.getByLabel('Attach files (optional)').setInputFiles({ name: 'rash.png', mimeType: 'image/png', buffer: PNG });
  await expect(patient.locator('#new-message .file-list')).toContainText('rash.png');
  await patient.getByRole('button', { name: 'Send message' }).click();
  await expect(patient).toHaveURL(/\/portal\/messages\/[0-9a-f-]{36}$/);
  const threadPath = new URL(patient.url()).pathname;
  const threadId = threadPath.split('/').pop()!;
  await expect(patient.getByRole('heading', { level: 2, name: subject })).toBeVisible();
  await expect(patient.locator('#message-list')).toContainText(question);
  await expect(patient.getByRole('button', { name: 'Download rash.png' })).toBeVisible();

  // The assigned clinician sees one unread message in the inbox, opens it, gets the picture and answers.
  const dana = await enrollAndSignIn(browser, baseURL, link('clinician.link'), '/dashboard', pageErrors, 'clinician');
  const clinician = dana.page;
  await clinician.getByRole('link', { name: 'Messages' }).first().click();
  await expect(clinician).toHaveURL(/\/dashboard\/messages$/);
  await hydrated(clinician);
  const row = clinician.locator('#threads-table tbody tr', { hasText: subject });
  await expect(row).toContainText('1 unread');
  await row.getByRole('link', { name: subject }).click();
  await expect(clinician).toHaveURL(new RegExp(`/dashboard/messages/${threadId}$`));
  await hydrated(clinician);
  const first = clinician.locator('#message-list li.message').first();
  await expect(first).toContainText(question);
  await expect(first).toContainText('New');
  const download = clinician.waitForEvent('download');
  await first.getByRole('button', { name: 'Download rash.png' }).click();
  expect((await download).suggestedFilename()).toBe('rash.png');
  await clinician.getByLabel('Your reply').fill(answer);
  await clinician.getByRole('button', { name: 'Send reply' }).click();
  await expect(clinician.locator('#reply-status')).toContainText('Reply sent.');
  await expect(clinician.locator('#message-list li.message')).toHaveCount(2);
  await expect(clinician.locator('#message-list li.message').last()).toContainText(answer);
  await clinician.getByRole('link', { name: 'Back to messages' }).click();
  await hydrated(clinician);
  await expect(clinician.locator('#threads-table tbody tr', { hasText: subject })).not.toContainText('unread');
  await dana.context.close();

  // The patient sees the answer waiting, from Dana, and reads it.
  await patient.goto('/portal/messages');
  await hydrated(patient);
  await expect(patient.locator('#threads-table tbody tr', { hasText: subject })).toContainText('1 unread');
  await patient.getByRole('link', { name: subject }).click();
  await hydrated(patient);
  const reply = patient.locator('#message-list li.message').last();
  await expect(reply).toContainText(answer);
  await expect(reply).toContainText('Dana Reyes, MD');
  await expect(reply).toContainText('New');
  await patientSession.context.close();

  // A clinician outside the care team cannot read the thread, even by its address.
  const omar = await enrollAndSignIn(browser, baseURL, link('other-clinician.link'), '/dashboard', pageErrors, 'other');
  const other = omar.page;
  await other.goto(threadPath.replace('/portal/', '/dashboard/'));
  await hydrated(other);
  await expect(other.locator('#thread-refused')).toContainText('You cannot read this conversation');
  await expect(other.locator('body')).not.toContainText(question);
  await expect(other.locator('body')).not.toContainText(subject);
  await expect(other.locator('#reply')).toHaveCount(0);
  await other.goto('/dashboard/messages');
  await hydrated(other);
  await expect(other.locator('#no-threads')).toBeVisible();
  await omar.context.close();
  expect(pageErrors).toEqual([]);
});
