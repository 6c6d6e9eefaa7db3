import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser, type ApiClient } from '../helpers/http.helper.js';
import { createRunning, waitFor } from '../helpers/instance.helper.js';
import { hasChromium, launchChromium } from './browser.helper.js';

describe.skipIf(!hasChromium)('Launch into the Node-RED editor in real Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let owner: ApiClient;
  let instance: { id: string; magic: string };

  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 10), PALETTE_CATALOGUES: 'none' } });
    owner = (await newUser(t.url, undefined, 'editor')).client;
    const pid = (await owner.get('/api/projects')).body.items[0].id;
    instance = await createRunning(t, owner, pid, 'editor-e2e');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('opens signed in with live comms, deploys, and stays signed in across an instance restart', { timeout: 180_000 }, async () => {
    const context = await browser.newContext();
    // A stale token left in localStorage by an earlier session must not cause a login prompt.
    await context.addInitScript(`if (!sessionStorage.getItem('seeded')) {
      localStorage.setItem('auth-tokens', JSON.stringify({ access_token: 'stale-token' }));
      sessionStorage.setItem('seeded', '1');
    }`);
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('requestfailed', (r) => consoleErrors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));

    const { url } = (await owner.post(`/api/instances/${instance.id}/launch`)).body;
    await page.goto(url);
    await page.waitForSelector('#red-ui-workspace', { state: 'visible', timeout: 60_000 });
    expect(page.url()).not.toContain('access_token');
    expect(await page.locator('.red-ui-editor-login, #node-dialog-login').count()).toBe(0);
    await waitFor('comms socket', async () => sockets.some((s) => s.endsWith('/comms')));
    const token = await page.evaluate("localStorage.getItem('auth-tokens')");
    expect(token).toBeNull();

    // Deploy a change from the editor the way a person does: drag an inject node from the palette, click Deploy.
    const paletteNode = page.locator('.red-ui-palette-node[data-palette-type="inject"]').first();
    await paletteNode.waitFor({ state: 'visible', timeout: 30_000 });
    const from = (await paletteNode.boundingBox())!;
    const canvas = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(canvas.x + 150, canvas.y + 120, { steps: 10 });
    await page.mouse.move(canvas.x + 200, canvas.y + 150, { steps: 10 });
    await page.mouse.up();
    fs.mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/editor-before-deploy.png' });
    await page.click('#red-ui-header-button-deploy');
    const flowsFile = `${t.dataPath}/instances/${instance.id}/flows.json`;
    await waitFor('deployed flows to contain the browser node', async () => fs.readFileSync(flowsFile, 'utf8').includes('"inject"'));

    expect((await owner.post(`/api/instances/${instance.id}/restart?wait=true`)).body.state).toBe('running');
    // While the runtime restarts the open editor's reconnect attempts get 503s; only errors after reload count.
    consoleErrors.length = 0;
    await page.reload();
    await page.waitForSelector('#red-ui-workspace', { state: 'visible', timeout: 60_000 });
    expect(await page.locator('.red-ui-editor-login, #node-dialog-login').count()).toBe(0);
    await page.waitForFunction("RED.nodes.filterNodes({ type: 'inject' }).length === 1", null, { timeout: 30_000 });
    fs.mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/editor-after-restart.png' });
    expect(consoleErrors.filter((e) => !/favicon/i.test(e)), consoleErrors.join('\n')).toEqual([]);
    await context.close();
  });
});
