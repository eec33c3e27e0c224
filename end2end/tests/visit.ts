import { expect, Browser, BrowserContext, Page } from '@playwright/test';
import { chromiumArgs } from '../playwright.config';
import { hydrated, signInAs } from './people';

// A video visit between two browser contexts with Chromium's fake camera and microphone, for
// the specs that run it on different topologies (one server, two nodes, two nodes behind a
// proxy). The seeded clinic gives patient E2E-0000000 a video visit with Dana Reyes (assigned)
// starting at this quarter hour; Omar Haddad has no relationship to the patient.

// For `test.use` in those specs.
export const videoLaunchOptions = {
  executablePath: '/usr/bin/chromium',
  args: [
    ...chromiumArgs,
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ],
};

// Keeps every RTCPeerConnection and WebSocket the page makes, so the test can read the call's
// state and statistics, and cut the signaling connection as a network blip would.
const trackPeers = () => {
  const OriginalPeer = window.RTCPeerConnection;
  (window as any).__peers = [];
  window.RTCPeerConnection = class extends OriginalPeer {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      (window as any).__peers.push(this);
    }
  } as typeof RTCPeerConnection;
  const OriginalSocket = window.WebSocket;
  (window as any).__sockets = [];
  window.WebSocket = class extends OriginalSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      (window as any).__sockets.push(this);
    }
  } as typeof WebSocket;
};

const socketCount = (page: Page) => page.evaluate(() => (window as any).__sockets.length as number);

async function peerState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const peers: RTCPeerConnection[] = (window as any).__peers ?? [];
    return peers.length ? peers[peers.length - 1].connectionState : 'none';
  });
}

// Video frames decoded from the other side, as getStats reports them.
async function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const peers: RTCPeerConnection[] = (window as any).__peers ?? [];
    if (!peers.length) return 0;
    const stats = await peers[peers.length - 1].getStats();
    let frames = 0;
    stats.forEach((report: any) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded ?? 0;
    });
    return frames;
  });
}

// Where one side of the visit reaches the clinic: a node's own URL, or the proxy's with a
// `prepare` that pins the browser context to a node before its first request.
export type Side = { baseURL: string; prepare?: (context: BrowserContext) => Promise<void> };

async function person(
  browser: Browser,
  side: Side,
  linkFile: string,
  landing: string,
  pageErrors: string[],
  linkDir: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const someone = await signInAs(browser, side.baseURL, linkFile, landing, pageErrors, linkDir, side.prepare);
  await someone.context.addInitScript(trackPeers);
  return someone;
}

// The whole visit: the patient (and a clinician with no relationship to them) on one side,
// the assigned clinician on the other, each signing in with a link from `linkDir`.
export async function videoVisit(browser: Browser, patientSide: Side, clinicianSide: Side, linkDir: string) {
  const pageErrors: string[] = [];

  // The patient opens the visit from the portal and enters the waiting room.
  const patient = await person(browser, patientSide, 'patient.link', '/portal', pageErrors, linkDir);
  const upcoming = patient.page.locator('#upcoming-visits li', { hasText: 'Video visit' });
  await expect(upcoming).toContainText('Video visit with Dana Reyes, MD');
  await upcoming.getByRole('link', { name: 'Join video visit' }).click();
  await expect(patient.page).toHaveURL(/\/visit\/[0-9a-f-]{36}$/);
  const visitPath = new URL(patient.page.url()).pathname;
  // A full load, so the page's peer connections are tracked (the link navigated in place).
  await patient.page.reload();
  await hydrated(patient.page);
  await expect(patient.page.getByRole('heading', { level: 1 })).toHaveText('Video visit with Dana Reyes, MD');
  await patient.page.getByRole('button', { name: 'Enter the waiting room' }).click();
  await expect(patient.page.locator('#call-status')).toContainText('You are in the waiting room');

  // A clinician with no relationship to the patient is refused the page and the signaling socket.
  const omar = await person(browser, patientSide, 'other-clinician.link', '/dashboard', pageErrors, linkDir);
  await expect(omar.page.locator('#waiting-empty')).toBeVisible();
  await omar.page.goto(visitPath);
  await expect(omar.page.locator('#not-allowed')).toBeVisible();
  const socket = await omar.page.evaluate(
    (path) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/api${path.replace('/visit/', '/video/')}/signal`);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      }),
    visitPath,
  );
  expect(socket).toBe('refused');
  await omar.context.close();

  // The assigned clinician sees the patient waiting, lets them in and joins.
  const dana = await person(browser, clinicianSide, 'clinician.link', '/dashboard', pageErrors, linkDir);
  const waiting = dana.page.locator('#waiting-list li');
  await expect(waiting).toHaveCount(1);
  await expect(waiting).toContainText('Waiting');
  await waiting.getByRole('link').click();
  await expect(dana.page).toHaveURL(new RegExp(`${visitPath}$`));
  await dana.page.reload();
  await hydrated(dana.page);
  await dana.page.locator('#join-visit').click();

  // Both reach `connected` and decode the other's video.
  for (const page of [patient.page, dana.page]) {
    await expect.poll(() => peerState(page), { timeout: 30_000 }).toBe('connected');
    await expect.poll(() => framesDecoded(page), { timeout: 30_000 }).toBeGreaterThan(10);
    await expect(page.locator('#call-status')).toHaveText('Connected');
  }

  // A network blip cuts the patient's signaling socket: it reconnects by itself, and the call,
  // which runs browser to browser, stays up.
  const sockets = await socketCount(patient.page);
  await patient.page.evaluate(() => (window as any).__sockets.at(-1).close());
  await expect.poll(() => socketCount(patient.page)).toBeGreaterThan(sockets);
  await expect(patient.page.locator('#call-status')).toHaveText('Connected');
  expect(await peerState(patient.page)).toBe('connected');

  // The clinician hangs up and comes back: a fresh offer connects them again.
  const peers = await dana.page.evaluate(() => (window as any).__peers.length as number);
  await dana.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(dana.page.locator('#call-status')).toHaveText('You left the visit. You can rejoin while it lasts.');
  await expect(patient.page.locator('#call-status')).toContainText('Your clinician stepped out');
  await dana.page.getByRole('button', { name: 'Join the visit' }).click();
  await expect.poll(() => dana.page.evaluate(() => (window as any).__peers.length as number)).toBeGreaterThan(peers);
  for (const page of [patient.page, dana.page]) {
    await expect.poll(() => peerState(page), { timeout: 30_000 }).toBe('connected');
  }
  await expect.poll(() => framesDecoded(dana.page), { timeout: 30_000 }).toBeGreaterThan(10);

  // Mute and camera controls are real toggles.
  await patient.page.getByRole('button', { name: 'Mute' }).click();
  await expect(patient.page.getByRole('button', { name: 'Unmute' })).toHaveAttribute('aria-pressed', 'true');

  // The clinician writes the consult note into the chart, then ends the visit for everyone.
  await dana.page.getByLabel(/^Note/).fill('Reviewed medications by video. Continue the current plan.');
  await dana.page.getByRole('button', { name: 'Save note to chart' }).click();
  await expect(dana.page.getByText('Saved to the chart.')).toBeVisible();
  await dana.page.getByRole('button', { name: 'End the visit for everyone' }).click();
  await expect(dana.page.locator('#call-status')).toHaveText('You ended the visit for everyone.');
  await expect(patient.page.locator('#call-status')).toHaveText('The visit has ended. Thank you.');
  await expect.poll(() => peerState(patient.page)).toBe('closed');

  expect(pageErrors).toEqual([]);
  await patient.context.close();
  await dana.context.close();
}
