import { test, expect } from '@playwright/test';

// What a phone on a slow link pays for the bundle: brotli on the first visit, nothing on the
// next (the browser keeps the files and the server answers its revalidation with a 304).
// bodyBytes counts what reached the page (from the cache too); wireBytes what crossed the network.
type Seen = { url: string; status: number; encoding: string; fromCache: boolean; bodyBytes: number; wireBytes: number; wireStatus?: number };

test('the bundle arrives brotli-compressed and a second load transfers no WASM bytes', async ({ page }) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const seen = new Map<string, Seen>();
  cdp.on('Network.responseReceived', (e) => {
    if (!/\/pkg\/clinic(_bg)?\.(wasm|css)$/.test(e.response.url)) return;
    const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    seen.set(e.requestId, {
      url: e.response.url,
      status: e.response.status,
      encoding: headers['content-encoding'] ?? '',
      fromCache: Boolean(e.response.fromDiskCache || e.response.fromPrefetchCache),
      bodyBytes: 0,
      wireBytes: 0,
    });
  });
  // The status that crossed the network: for a revalidated file the page sees the cached 200,
  // the wire carried a 304.
  const wireStatus = new Map<string, number>();
  cdp.on('Network.responseReceivedExtraInfo', (e) => wireStatus.set(e.requestId, e.statusCode));
  cdp.on('Network.dataReceived', (e) => {
    const entry = seen.get(e.requestId);
    if (entry) entry.bodyBytes += e.dataLength;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const entry = seen.get(e.requestId);
    if (entry) {
      entry.wireBytes = e.encodedDataLength;
      entry.wireStatus = wireStatus.get(e.requestId) ?? entry.status;
    }
  });
  const loads = async () => {
    seen.clear();
    await page.goto('/');
    await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
    // loadingFinished comes a moment after hydration.
    await expect.poll(() => [...seen.values()].filter((s) => s.url.endsWith('.wasm') && s.wireBytes > 0).length).toBe(1);
    return [...seen.values()];
  };

  const first = await loads();
  const wasm = first.find((s) => s.url.endsWith('.wasm'))!;
  const css = first.find((s) => s.url.endsWith('.css'))!;
  expect(wasm.status).toBe(200);
  expect(wasm.encoding).toBe('br');
  expect(css.encoding).toBe('br');
  console.log(`first load: WASM ${wasm.wireBytes} bytes on the wire (${wasm.bodyBytes} decoded)`);

  const second = await loads();
  const again = second.filter((s) => s.url.endsWith('.wasm'));
  // Either served from the browser's cache without asking, or asked and answered 304.
  for (const s of again) {
    expect(s.fromCache || s.wireStatus === 304).toBe(true);
    // Headers only, where the first load carried the whole compressed bundle.
    expect(s.wireBytes).toBeLessThan(4096);
  }
  console.log(
    `second load: WASM ${again.map((s) => `${s.fromCache ? 'from the disk cache' : `a ${s.wireStatus}`}, ${s.wireBytes} bytes on the wire`).join('; ') || 'not requested'}`,
  );
});
