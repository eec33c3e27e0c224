import { test } from '@playwright/test';
import { videoPort, nodesPort } from '../playwright.config';
import { videoLaunchOptions, videoVisit } from './visit';

// The video visit (tests/visit.ts) on one server, and on two app nodes whose only link is the
// database: signals written on one node reach the other through PostgreSQL LISTEN/NOTIFY.
test.use({ launchOptions: videoLaunchOptions });

test('a video visit: waiting room, admission, a connected call with video both ways, the end', async ({ browser }) => {
  const side = { baseURL: `http://localhost:${videoPort}` };
  await videoVisit(browser, side, side, process.env.E2E_VIDEO_LINK_DIR!);
});

test('the same visit with the patient and the clinician on two app nodes sharing one PostgreSQL', async ({ browser }) => {
  await videoVisit(
    browser,
    { baseURL: `http://localhost:${nodesPort}` },
    { baseURL: `http://localhost:${nodesPort + 1}` },
    process.env.E2E_NODES_LINK_DIR!,
  );
});
