import { test, expect } from '@playwright/test';

test('the home page hydrates and its status check calls the server', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });

  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Welcome to the clinic' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Sign in' }).first()).toBeVisible();
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');

  const call = page.waitForResponse((r) => r.url().endsWith('/api/system_status'));
  await page.getByRole('button', { name: 'Check system status' }).click();
  expect((await call).status()).toBe(200);

  await expect(page.locator('.status-summary')).toHaveText('All systems ready');
  await expect(page.locator('.status-list li')).toHaveCount(3);
  await expect(page.getByText('Encryption keys: ready')).toBeVisible();
  // The CSP let the hydration script and WebAssembly run, and blocked nothing of ours.
  expect(errors.filter((e) => /Content Security Policy|Refused/.test(e))).toEqual([]);
  expect(errors).toEqual([]);
});

test('the status check is reachable by keyboard alone', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const button = page.getByRole('button', { name: 'Check system status' });
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('.status-summary')).toHaveText('All systems ready');
});
