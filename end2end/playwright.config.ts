import { defineConfig } from '@playwright/test';
import * as os from 'os';
import * as path from 'path';

// Browser tests run in Debian's Chromium (never a downloaded browser) against the real release
// server, started by scripts/e2e-server.sh on its own port with a throwaway database.
const port = process.env.E2E_PORT ?? '3100';
// The server's start script writes the first admin's enrollment link here for the tests.
process.env.E2E_LINK_FILE ??= path.join(os.tmpdir(), `clinic-e2e-admin-link-${process.pid}`);
// ... and the seeded demo accounts' links (clinician.link, other-clinician.link, patient.link,
// security.link, ...) into this directory.
process.env.E2E_LINK_DIR ??= path.join(os.tmpdir(), `clinic-e2e-links-${process.pid}`);
// The video visit test has servers of its own, so its people enroll with fresh links: one
// server on SQLite, and two nodes on one PostgreSQL database.
process.env.E2E_VIDEO_LINK_DIR ??= `${process.env.E2E_LINK_DIR}-video`;
process.env.E2E_NODES_LINK_DIR ??= `${process.env.E2E_LINK_DIR}-nodes`;
// ... and two nodes behind HAProxy (deploy/haproxy.cfg): the proxy on proxyPort, the nodes on
// the next two ports.
process.env.E2E_PROXY_LINK_DIR ??= `${process.env.E2E_LINK_DIR}-proxy`;
export const videoPort = Number(port) + 3;
export const nodesPort = Number(port) + 1;
export const proxyPort = Number(port) + 20;

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${port}`,
    launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
    screenshot: 'only-on-failure',
  },
  webServer: [
    {
      command: `bash ../scripts/e2e-server.sh ${port}`,
      url: `http://127.0.0.1:${port}/readyz`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'ignore',
      stderr: process.env.E2E_SERVER_LOGS ? 'pipe' : 'ignore',
    },
    {
      command: `bash ../scripts/e2e-server.sh ${videoPort}`,
      url: `http://127.0.0.1:${videoPort}/readyz`,
      env: {
        E2E_LINK_DIR: process.env.E2E_VIDEO_LINK_DIR!,
        E2E_LINK_FILE: `${process.env.E2E_LINK_FILE}-video`,
      },
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'ignore',
      stderr: process.env.E2E_SERVER_LOGS ? 'pipe' : 'ignore',
    },
    {
      // Node A; the script waits for node B on the next port before starting it.
      command: `bash ../scripts/e2e-nodes.sh ${nodesPort}`,
      url: `http://127.0.0.1:${nodesPort}/readyz`,
      env: { E2E_LINK_DIR: process.env.E2E_NODES_LINK_DIR! },
      reuseExistingServer: false,
      timeout: 180_000,
      stdout: 'ignore',
      stderr: process.env.E2E_SERVER_LOGS ? 'pipe' : 'ignore',
    },
    {
      // Ready once both nodes answer and HAProxy's health checks have them UP.
      command: `bash ../scripts/proxy-nodes.sh ${proxyPort}`,
      url: `http://127.0.0.1:${proxyPort}/readyz`,
      env: { E2E_LINK_DIR: process.env.E2E_PROXY_LINK_DIR! },
      reuseExistingServer: false,
      timeout: 180_000,
      // SIGTERM, so the script drops its database and temporary files (the default is SIGKILL).
      gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
      stdout: 'ignore',
      stderr: process.env.E2E_SERVER_LOGS ? 'pipe' : 'ignore',
    },
  ],
});
