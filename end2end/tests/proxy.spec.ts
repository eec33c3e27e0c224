import { test, expect, BrowserContext } from '@playwright/test';
import { proxyPort } from '../playwright.config';
import { hydrated, signInAs } from './people';
import { videoLaunchOptions, videoVisit } from './visit';

// Two app nodes behind HAProxy (scripts/proxy-nodes.sh, configured from deploy/haproxy.cfg),
// reached only through the proxy's URL, as a clinic runs them. The proxy has no stickiness:
// sessions and video signaling live in PostgreSQL. For the test only, the proxy routes a
// browser context whose `e2e_node` cookie says a or b to that node, and names the node that
// answered in `X-Served-By`.
test.use({ launchOptions: videoLaunchOptions });

const base = `http://localhost:${proxyPort}`;
const linkDir = () => process.env.E2E_PROXY_LINK_DIR!;

const pinTo = (node: 'a' | 'b') => async (context: BrowserContext) => {
  await context.addCookies([{ name: 'e2e_node', value: node, url: base }]);
};

// Collects every node that answers one of the context's requests from now on (pages, the
// bundle, server functions) into `nodes`.
function recordNodes(context: BrowserContext, nodes = new Set<string>()): Set<string> {
  context.on('response', (response) => {
    if (response.url().startsWith(base)) nodes.add(response.headers()['x-served-by'] ?? 'no X-Served-By');
  });
  return nodes;
}

const pinnedAndRecorded = (node: 'a' | 'b', nodes: Set<string>) => async (context: BrowserContext) => {
  await pinTo(node)(context);
  recordNodes(context, nodes);
};

test('a session started through node a works on node b', async ({ browser }) => {
  const pageErrors: string[] = [];
  const seen = new Set<string>();
  const sam = await signInAs(browser, base, 'security.link', '/security', pageErrors, linkDir(), pinnedAndRecorded('a', seen));
  // Node b has not seen this browser yet: enrollment and sign-in ran on a.
  expect([...seen]).toEqual(['a']);

  await pinTo('b')(sam.context);
  const onB = recordNodes(sam.context);
  const response = await sam.page.goto('/security');
  expect(response?.headers()['x-served-by']).toBe('b');
  await hydrated(sam.page);
  await expect(sam.page.locator('#signed-in-as')).toContainText('Security officer');
  await expect(sam.page.locator('#please-sign-in')).toHaveCount(0);
  expect([...onB]).toEqual(['b']);
  expect(pageErrors).toEqual([]);
  await sam.context.close();
});

test('signing out through node a ends the session on node b too', async ({ browser }) => {
  const pageErrors: string[] = [];
  const lee = await signInAs(browser, base, 'care-team-clinician.link', '/dashboard', pageErrors, linkDir(), pinTo('a'));
  // The session works on b first, so what follows is the sign-out's doing.
  await pinTo('b')(lee.context);
  let response = await lee.page.goto('/dashboard');
  expect(response?.headers()['x-served-by']).toBe('b');
  await hydrated(lee.page);
  await expect(lee.page.locator('#signed-in-as')).toContainText('Clinician');

  // Kept as someone who copied the cookie would keep it: the browser drops it on sign-out.
  const session = (await lee.context.cookies(base)).find((cookie) => cookie.name === 'clinic_session');
  expect(session).toBeDefined();

  await pinTo('a')(lee.context);
  response = await lee.page.goto('/dashboard');
  expect(response?.headers()['x-served-by']).toBe('a');
  await hydrated(lee.page);
  const signOut = lee.page.waitForResponse((r) => r.url().endsWith('/api/auth/sign_out'));
  await lee.page.locator('#sign-out').click();
  expect((await signOut).headers()['x-served-by']).toBe('a');
  await lee.page.waitForURL((url) => url.pathname === '/');

  await lee.context.addCookies([session!]);
  await pinTo('b')(lee.context);
  response = await lee.page.goto('/dashboard');
  expect(response?.headers()['x-served-by']).toBe('b');
  await hydrated(lee.page);
  await expect(lee.page.locator('#please-sign-in')).toBeVisible();
  await expect(lee.page.locator('#signed-in-as')).toHaveCount(0);
  expect(pageErrors).toEqual([]);
  await lee.context.close();
});

test('the video visit through the proxy, the patient on node a and the clinician on node b', async ({ browser }) => {
  const patientNodes = new Set<string>();
  const clinicianNodes = new Set<string>();
  await videoVisit(
    browser,
    { baseURL: base, prepare: pinnedAndRecorded('a', patientNodes) },
    { baseURL: base, prepare: pinnedAndRecorded('b', clinicianNodes) },
    linkDir(),
  );
  // Each side talked to its own node only, so the call's signals crossed between the nodes.
  expect([...patientNodes]).toEqual(['a']);
  expect([...clinicianNodes]).toEqual(['b']);
});
