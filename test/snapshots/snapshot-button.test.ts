import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../e2e/browser.helper.js';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser, type ApiClient } from '../helpers/http.helper.js';
import { createRunning, deployFlows, viaRouter, waitFor } from '../helpers/instance.helper.js';

const v1 = [
  { id: 'et', type: 'tab', label: 'Editor flows' },
  { id: 'ein', type: 'http in', z: 'et', url: '/which', method: 'get', x: 120, y: 80, wires: [['efn']] },
  { id: 'efn', type: 'function', z: 'et', name: 'which', func: "msg.payload = 'one'; return msg;", outputs: 1, x: 300, y: 80, wires: [['eout']] },
  { id: 'eout', type: 'http response', z: 'et', x: 480, y: 80, wires: [] },
];
const v2 = [...v1.map((n) => (n.id === 'efn' ? { ...n, func: "msg.payload = 'two'; return msg;" } : n)), { id: 'eextra', type: 'comment', z: 'et', name: 'added later', x: 120, y: 160, wires: [] }];

describe.skipIf(!hasChromium)('the Snapshot button in the real Node-RED editor (Chromium)', () => {
  let t: TestApp;
  let browser: Browser;
  let owner: ApiClient;

  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 10), PALETTE_CATALOGUES: 'none' } });
    owner = (await newUser(t.url, undefined, 'button')).client;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('captures from the toolbar, lists the last 10 under the caret, and rolls back after a confirmation', { timeout: 240_000 }, async () => {
    const projectId = (await owner.get('/api/projects')).body.items[0].id;
    const inst = await createRunning(t, owner, projectId, 'snapbutton');
    await deployFlows(t, 'snapbutton', inst.magic, v1);

    const page = await (await browser.newContext()).newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const { url } = (await owner.post(`/api/instances/${inst.id}/launch`)).body;
    await page.goto(url);
    await page.waitForSelector('#red-ui-workspace', { state: 'visible', timeout: 90_000 });
    await page.waitForSelector('#openflow-snapshot-button', { state: 'visible', timeout: 30_000 });

    // The button group sits right before Deploy in the header toolbar.
    const order = await page.$$eval('.red-ui-header-toolbar > li', (lis) => lis.map((li) => (li.querySelector('#openflow-snapshot-button') ? 'snapshot' : li.querySelector('#red-ui-header-button-deploy') ? 'deploy' : 'other')));
    expect(order.indexOf('snapshot')).toBe(order.indexOf('deploy') - 1);

    await page.click('#openflow-snapshot-button');
    await page.fill('#openflow-snapshot-name', 'from the editor');
    await page.click('#openflow-snapshot-confirm');
    await page.waitForSelector('.red-ui-notification-success', { timeout: 30_000 });
    const taken = await waitFor('snapshot listed', async () => {
      const items = (await owner.get(`/api/instances/${inst.id}/snapshots`)).body.items;
      return items.find((s: any) => s.name === 'from the editor');
    });
    expect(taken.author).toEqual({ id: null, name: 'editor of snapbutton' });
    expect(taken.nodeCount).toBe(3);

    // Eleven more: the caret shows the newest ten.
    for (let i = 1; i <= 11; i += 1) expect((await owner.post(`/api/instances/${inst.id}/snapshots`, { name: `api ${i}` })).status).toBe(201);
    await deployFlows(t, 'snapbutton', inst.magic, v2);
    await waitFor('v2 live', async () => (await viaRouter(t, 'snapbutton', '/api/which')).body === 'two');
    await page.reload();
    await page.waitForSelector('#openflow-snapshot-button', { state: 'visible', timeout: 60_000 });
    await waitFor('editor shows v2', async () => page.evaluate("Boolean(RED.nodes.node('eextra'))"));

    await page.click('#openflow-snapshot-list');
    const menu = page.locator('.openflow-snapshot-menu .openflow-snapshot-item');
    await menu.first().waitFor({ state: 'visible', timeout: 30_000 });
    expect(await menu.count()).toBe(10);
    expect(await page.locator('.openflow-snapshot-menu .openflow-snapshot-name').first().textContent()).toBe('api 11');
    await page.keyboard.press('Escape');

    // Roll back to "api 2" (taken while v1 was deployed; "api 1" is the eleventh), confirming in the dialog.
    await page.click('#openflow-snapshot-list');
    await page.locator('.openflow-snapshot-menu .openflow-snapshot-name', { hasText: /^api 2$/ }).click();
    await page.waitForSelector('#openflow-rollback-confirm', { state: 'visible' });
    await page.click('#openflow-rollback-confirm');
    await page.waitForSelector('.red-ui-notification-success:has-text("Rolled back")', { timeout: 60_000 });
    await waitFor('v1 live again', async () => (await viaRouter(t, 'snapbutton', '/api/which')).body === 'one');
    const snapFlows = (await owner.get(`/api/snapshots/${taken.id}`)).body.flows;
    const live = JSON.parse((await viaRouter(t, 'snapbutton', '/flows', { headers: { authorization: `Bearer ${inst.magic}` } })).body);
    expect(live).toEqual(snapFlows);

    // The editor shows the rolled-back flows without a reload and nothing left to deploy.
    await waitFor('editor reloaded', async () => page.evaluate("!RED.nodes.node('eextra') && Boolean(RED.nodes.node('efn')) && !RED.nodes.dirty()"));
    expect(pageErrors).toEqual([]);
  });
});
