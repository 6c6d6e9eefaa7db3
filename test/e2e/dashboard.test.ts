import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { deployFlows, secretsOf, waitFor } from '../helpers/instance.helper.js';
import { CHROMIUM, hasChromium, launchChromium } from './browser.helper.js';
import { ensureDashboardBuilt } from './dashboard-build.js';

const ARTIFACTS = path.join('test-artifacts', 'dashboard');
const STEP = 90_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const isNodeRedCatalogue = (url: string) => url.startsWith('https://catalogue.nodered.org/');

/** Every console error, page error, failed request and HTTP error answer, from every tab of a context. */
function watch(context: BrowserContext, problems: string[]): void {
  const attach = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error' && m.location().url && isNodeRedCatalogue(m.location().url)) return;
      if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
    page.on('requestfailed', (r) => {
      const reason = r.failure()?.errorText ?? '';
      // Closing an EventSource (leaving a screen) or a tab cancels its open request: that is not a failure.
      if (reason === 'net::ERR_ABORTED' && (r.resourceType() === 'eventsource' || /\/events$|\/logs\?follow=true$/.test(r.url()) || page.isClosed())) return;
      // The Node-RED editor fetches its palette catalogue from the internet, which this sandbox does not reach.
      if (isNodeRedCatalogue(r.url())) return;
      problems.push(`request failed: ${r.method()} ${r.url()} ${reason}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    });
  };
  context.pages().forEach(attach);
  context.on('page', attach);
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function toast(page: Page, text: string | RegExp) {
  const t = page.getByTestId('toast').filter({ hasText: text });
  await t.first().waitFor({ state: 'visible', timeout: STEP });
  return t.first();
}

async function dismissToasts(page: Page): Promise<void> {
  for (const b of await page.getByRole('button', { name: 'Dismiss notification' }).all()) await b.click().catch(() => {});
}

// The suite's title carries the reason when it is skipped, so the runner's output says what to install.
const TITLE = hasChromium ? 'dashboard in real Chromium' : `dashboard in real Chromium: SKIPPED, ${CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)`;

describe.skipIf(!hasChromium)(TITLE, () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  let admin: BrowserContext;
  let page: Page;
  let instanceId = '';
  let personalProject = '';
  const problems: string[] = [];
  const users = { admin: 'admin@example.test', member: 'member@example.test', outsider: 'outsider@example.test' };
  const password = 'correct horse battery';
  const flowsOf = (id: string) => {
    const file = path.join(t.dataPath, 'instances', id, 'flows.json');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  };
  const routeExists = async (p: string) => {
    const res = await fetch(base + p);
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    return !(res.status === 404 && body?.message?.startsWith('No route'));
  };

  beforeAll(async () => {
    await ensureDashboardBuilt();
    const port = await freePort();
    const range = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({
      env: { PORT: String(port), PUBLIC_URL: `http://localhost:${port}`, PORT_RANGE_START: String(range), PORT_RANGE_END: String(range + 20), MQTT_PORT: String(await freePort()) },
    });
    base = `http://localhost:${t.port}`;
    browser = await launchChromium();
    admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    watch(admin, problems);
    page = await admin.newPage();
  }, 360_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(page, `failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('registers the first user and lands in the personal project', { timeout: STEP }, async () => {
    await page.goto(base + '/');
    await page.getByRole('heading', { name: 'Sign in to Openflow' }).waitFor();
    await shot(page, '01-login');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill('E2E Admin');
    await page.getByLabel('Email').fill(users.admin);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    expect(page.url()).toMatch(/\/projects\/[0-9a-f-]{36}$/);
    personalProject = /projects\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    await expect(page.getByLabel('Project').inputValue()).resolves.not.toBe('');
    expect(await page.getByLabel('Project').locator('option:checked').textContent()).toContain("E2E Admin's project");
    await page.getByText('Live', { exact: true }).waitFor();
    await shot(page, '02-instances-empty');
  });

  it('validates the subdomain live and creates an instance', { timeout: STEP }, async () => {
    await page.getByRole('button', { name: 'New instance' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    const sub = dialog.getByLabel('Subdomain');
    await sub.fill('www');
    await dialog.getByText('Subdomain "www" is reserved').waitFor();
    expect(await sub.getAttribute('aria-invalid')).toBe('true');
    await sub.fill('Bad_Name');
    await dialog.getByText(/must be 1-63 characters/).waitFor();
    await sub.fill('e2e-flow');
    await dialog.getByText('Will be created as “e2e-flow”.').waitFor();
    await dialog.getByLabel('Template').selectOption('blank');
    await dialog.getByLabel('Memory (MiB)').fill('64');
    await dialog.getByText('Memory must be between 128 and 4096').waitFor();
    await dialog.getByLabel('Memory (MiB)').fill('256');
    await shot(page, '03-create-dialog');
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await toast(page, 'Instance e2e-flow created');
    const row = page.locator('tr[data-instance="e2e-flow"]');
    await row.getByText('Stopped').waitFor();
  });

  it('starts the instance and shows the live state and resource use without a reload', { timeout: STEP * 2 }, async () => {
    const row = page.locator('tr[data-instance="e2e-flow"]');
    await page.getByRole('button', { name: 'Start e2e-flow', exact: true }).click();
    await row.locator('[data-state="running"]').waitFor({ timeout: STEP });
    await row.getByText(/MiB of 256 MiB/).waitFor({ timeout: 30_000 });
    await dismissToasts(page);
    await shot(page, '04-instances-running');
  });

  it('launches the editor signed in, in a new tab, and deploys a flow from it', { timeout: STEP * 2 }, async () => {
    await page.getByRole('link', { name: 'e2e-flow', exact: true }).click();
    await page.getByRole('heading', { name: /e2e-flow/ }).waitFor();
    instanceId = /instances\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    const [editor] = await Promise.all([admin.waitForEvent('page'), page.getByRole('button', { name: 'Launch editor for e2e-flow' }).click()]);
    await editor.waitForURL(/^http:\/\/e2e-flow\.localhost:\d+\//, { timeout: STEP });
    await editor.waitForSelector('#red-ui-workspace', { state: 'visible', timeout: STEP });
    expect(await editor.locator('.red-ui-editor-login, #node-dialog-login').count()).toBe(0);
    expect(editor.url()).not.toContain('access_token');
    const paletteNode = editor.locator('.red-ui-palette-node[data-palette-type="inject"]').first();
    const from = (await paletteNode.boundingBox())!;
    const canvas = (await editor.locator('#red-ui-workspace-chart').boundingBox())!;
    await editor.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await editor.mouse.down();
    await editor.mouse.move(canvas.x + 150, canvas.y + 120, { steps: 10 });
    await editor.mouse.move(canvas.x + 200, canvas.y + 150, { steps: 10 });
    await editor.mouse.up();
    await editor.click('#red-ui-header-button-deploy');
    await waitFor('the deployed inject node', async () => flowsOf(instanceId).includes('"inject"'));
    await shot(editor, '05-editor');
    await editor.close();
    await page.bringToFront();
  });

  it('shows the live log tail', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'Logs', exact: true }).click();
    await page.getByTestId('log-view').getByText(/Started flows|Server now running/).first().waitFor({ timeout: STEP });
    await page.getByText('Following').waitFor();
    await shot(page, '06-logs');
  });

  it('captures a snapshot, compares it, applies it here and to an instance in another project', { timeout: STEP * 3 }, async () => {
    if (!(await routeExists(`/api/instances/${instanceId}/snapshots`))) {
      console.warn('Snapshot routes are not on this manager; skipping the snapshot steps.');
      return;
    }
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await page.getByRole('heading', { name: 'Snapshots and backups' }).waitFor();
    await page.getByRole('button', { name: 'Capture snapshot' }).click();
    const capture = page.getByRole('dialog', { name: /Capture a snapshot/ });
    await capture.getByLabel('Name').fill('with-inject');
    await capture.getByRole('button', { name: 'Capture snapshot' }).click();
    await toast(page, 'Snapshot with-inject captured');
    await page.locator('li[data-kind="snapshot"][data-name="with-inject"]').waitFor();

    // Change the flows behind the snapshot's back, as a deploy from anywhere would.
    await deployFlows(t, 'e2e-flow', (await secretsOf(t, instanceId)).magicToken, []);
    await waitFor('the flows to lose the inject node', async () => !flowsOf(instanceId).includes('"inject"'));

    await page.getByRole('button', { name: 'Compare snapshot with-inject with the current flows' }).click();
    const diff = page.getByRole('dialog', { name: /with-inject compared with e2e-flow/ });
    await diff.getByRole('heading', { name: /^Added \(\d+\)$/ }).waitFor();
    await diff.locator('.diff-added').getByText(/\(inject\)|^inject /).first().waitFor();
    await shot(page, '07-snapshot-diff');
    await diff.getByRole('button', { name: 'Close', exact: true }).click();

    await page.getByRole('button', { name: 'Apply snapshot with-inject' }).click();
    const apply = page.getByRole('dialog', { name: 'Apply with-inject' });
    await apply.getByLabel('Instance').selectOption({ label: 'e2e-flow (this instance)' });
    await apply.getByRole('button', { name: 'Apply snapshot' }).click();
    await toast(page, 'Snapshot with-inject applied to e2e-flow');
    await waitFor('the snapshot’s flows back on the instance', async () => flowsOf(instanceId).includes('"inject"'));

    // Another project, created from the project menu, with a stopped instance as the target.
    await page.getByLabel('Project').selectOption({ label: '+ New project…' });
    const np = page.getByRole('dialog', { name: 'New project' });
    await np.getByLabel('Name').fill('Staging');
    await np.getByRole('button', { name: 'Create project' }).click();
    await toast(page, 'Project "Staging" created');
    await page.getByRole('button', { name: 'New instance' }).first().click();
    const create = page.getByRole('dialog', { name: 'New instance' });
    await create.getByLabel('Subdomain').fill('e2e-staging');
    await create.getByLabel('Template').selectOption('blank');
    await create.getByRole('button', { name: 'Create instance' }).click();
    await page.locator('tr[data-instance="e2e-staging"]').waitFor();
    const stagingProject = /projects\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    await page.goBack();
    await page.getByRole('heading', { name: 'Snapshots and backups' }).waitFor();
    await page.getByRole('button', { name: 'Apply snapshot with-inject' }).click();
    await apply.getByLabel('Project').selectOption({ label: 'Staging' });
    await apply.getByLabel('Instance').selectOption({ label: 'e2e-staging' });
    await apply.getByText('This replaces the flows of e2e-staging').waitFor();
    await apply.getByRole('button', { name: 'Apply snapshot' }).click();
    await toast(page, 'Snapshot with-inject applied to e2e-staging');
    const staging = (await t.testDb.db.query<{ id: string }>('SELECT id FROM instances WHERE subdomain = $1 AND project_id = $2', ['e2e-staging', stagingProject]))[0]!;
    await waitFor('the snapshot in the other project’s instance', async () => flowsOf(staging.id).includes('"inject"'));
  });

  it('backs up, restores with progress, and offers the archive for download', { timeout: STEP * 3 }, async () => {
    if (!(await routeExists(`/api/instances/${instanceId}/backups`))) {
      console.warn('Backup routes are not on this manager; skipping the backup steps.');
      return;
    }
    if (!page.url().endsWith('/backups')) await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await page.getByRole('button', { name: 'Back up now' }).click();
    await toast(page, 'Backup complete');
    const backup = page.locator('li[data-kind="backup"][data-status="complete"]').first();
    await backup.waitFor();
    expect(await backup.getByRole('link', { name: /Download the backup/ }).getAttribute('href')).toMatch(/^\/api\/backups\/[0-9a-f-]{36}\/download$/);

    await deployFlows(t, 'e2e-flow', (await secretsOf(t, instanceId)).magicToken, []);
    await waitFor('the flows to lose the inject node', async () => !flowsOf(instanceId).includes('"inject"'));

    await backup.getByRole('button', { name: /Restore the backup/ }).click();
    const confirm = page.getByRole('dialog', { name: 'Restore this backup?' });
    await confirm.getByLabel(/Type e2e-flow to confirm/).fill('e2e-flow');
    await confirm.getByRole('button', { name: 'Restore' }).click();
    await toast(page, 'Restore complete');
    await waitFor('the backed-up flows back on the instance', async () => flowsOf(instanceId).includes('"inject"'));
    await page.locator('[data-state="running"]').first().waitFor({ timeout: STEP });
    await shot(page, '08-backups');
    await dismissToasts(page);
  });

  it('adds an alias and says whether a restart is needed', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'Aliases', exact: true }).click();
    await page.getByLabel('New alias').fill('admin');
    await page.getByText('Alias "admin" is reserved').waitFor();
    await page.getByLabel('New alias').fill('e2e-alias');
    await page.getByRole('button', { name: 'Add alias' }).click();
    const t1 = await toast(page, 'Alias e2e-alias added');
    const text = await t1.textContent();
    if (t.openflow.services.instances.driverPinsNames) {
      expect(text).toContain('restart needed');
      expect(await t1.getByRole('button', { name: 'Restart now' }).count()).toBe(1);
    } else {
      expect(text).toContain(`The instance now also answers on http://e2e-alias.localhost:${t.port}`);
      expect(await t1.getByRole('button', { name: 'Restart now' }).count()).toBe(0);
    }
    await page.getByRole('link', { name: 'e2e-alias' }).waitFor();
    await shot(page, '09-aliases');
  });

  it('shows MQTT connection details and a new device credential once', { timeout: STEP }, async () => {
    if (!(await routeExists(`/api/projects/${personalProject}/mqtt-clients`))) {
      console.warn('MQTT client routes are not on this manager; skipping the MQTT steps.');
      return;
    }
    await page.getByRole('link', { name: 'MQTT', exact: true }).click();
    await page.getByRole('heading', { name: 'Connection' }).waitFor();
    await page.getByRole('button', { name: 'New credential' }).click();
    const d = page.getByRole('dialog', { name: 'New device credential' });
    await d.getByLabel('Description').fill('Greenhouse sensor');
    await d.getByRole('button', { name: 'Create credential' }).click();
    const shown = page.getByRole('dialog', { name: 'Device credential created' });
    expect(await shown.getByTestId('mqtt-password').textContent()).toMatch(/^\S{16,}$/);
    const username = (await shown.getByTestId('mqtt-username').textContent())!;
    await shot(page, '10-mqtt-credential');
    await shown.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('cell', { name: username, exact: true }).waitFor();
    expect(await page.getByText('Greenhouse sensor').count()).toBe(1);
  });

  it('edits settings and shows the project audit log with descriptions', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of variable 1').fill('GREETING');
    await page.getByLabel('Value of variable 1').fill('hello');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await toast(page, /Settings saved/);
    await shot(page, '11-settings');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.locator('.audit-entry').filter({ has: page.getByText('instance.create', { exact: true }) }).first().waitFor();
    await page.getByLabel('Action', { exact: true }).selectOption('instance.create');
    await waitFor('only instance.create entries', async () => (await page.locator('.audit-entry code.chip').allTextContents()).join() === 'instance.create');
    expect(await page.locator('.audit-entry .audit-description').first().textContent()).toContain('e2e-flow');
    await shot(page, '12-audit');
  });

  it('creates users as admin and shares the project with a member but not with anyone else', { timeout: STEP * 2 }, async () => {
    await page.getByRole('link', { name: 'Admin', exact: true }).click();
    for (const [name, email] of [
      ['Mia Member', users.member],
      ['Otto Outsider', users.outsider],
    ] as const) {
      await page.getByRole('button', { name: 'New user' }).click();
      const d = page.getByRole('dialog', { name: 'New user' });
      await d.getByLabel('Name').fill(name);
      await d.getByLabel('Email').fill(email);
      await d.getByLabel('Initial password').fill(password);
      await d.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('cell', { name: email }).waitFor();
    }
    await shot(page, '13-admin-users');
    await page.getByRole('link', { name: 'Templates', exact: true }).click();
    await page.getByRole('heading', { name: /Starter/ }).waitFor();

    await page.getByLabel('Project').selectOption(personalProject);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await page.getByLabel('Email of an existing user').fill(users.member);
    await page.getByRole('button', { name: 'Add member' }).click();
    await toast(page, 'Mia Member added as member');
    await page.locator(`tr[data-member="${users.member}"]`).waitFor();
    await shot(page, '14-members');

    const signIn = async (email: string) => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      watch(ctx, problems);
      const p = await ctx.newPage();
      await p.goto(base + '/');
      await p.getByLabel('Email').fill(email);
      await p.getByLabel('Password').fill(password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Instances' }).waitFor();
      return { ctx, p };
    };
    const member = await signIn(users.member);
    const memberOptions = await member.p.getByLabel('Project').locator('option').allTextContents();
    expect(memberOptions).toContain("E2E Admin's project");
    await member.p.getByLabel('Project').selectOption(personalProject);
    await member.p.locator('tr[data-instance="e2e-flow"] [data-state="running"]').waitFor();
    await shot(member.p, '15-member-view');
    await member.ctx.close();

    const outsider = await signIn(users.outsider);
    const outsiderOptions = await outsider.p.getByLabel('Project').locator('option').allTextContents();
    expect(outsiderOptions.some((o) => o.includes('E2E Admin'))).toBe(false);
    expect(await outsider.p.getByLabel('Project').locator(`option[value="${personalProject}"]`).count()).toBe(0);
    expect(outsiderOptions.some((o) => o.includes('Otto Outsider'))).toBe(true);
    expect(await outsider.p.locator('tr[data-instance="e2e-flow"]').count()).toBe(0);
    await outsider.ctx.close();
  });

  it('fits a 390 px wide phone screen', { timeout: STEP }, async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click();
    await page.locator('tr[data-instance="e2e-flow"]').waitFor();
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(await overflow()).toBe(0);
    await shot(page, '16-phone-instances');
    await page.getByRole('link', { name: 'e2e-flow', exact: true }).click();
    await page.getByRole('heading', { name: /e2e-flow/ }).waitFor();
    expect(await overflow()).toBe(0);
    await shot(page, '17-phone-instance');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('deletes the instance only after its name is typed, then signs out', { timeout: STEP }, async () => {
    await page.getByRole('button', { name: 'Delete…' }).click();
    const d = page.getByRole('dialog', { name: 'Delete e2e-flow?' });
    const confirm = d.getByRole('button', { name: 'Delete instance' });
    expect(await confirm.isDisabled()).toBe(true);
    await d.getByLabel(/Type e2e-flow to confirm/).fill('e2e-flo');
    expect(await confirm.isDisabled()).toBe(true);
    await d.getByLabel(/Type e2e-flow to confirm/).fill('e2e-flow');
    await confirm.click();
    await toast(page, 'Instance e2e-flow deleted');
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    expect(await page.locator('tr[data-instance="e2e-flow"]').count()).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Openflow' }).waitFor();
  });

  it('had no console errors, page errors or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
