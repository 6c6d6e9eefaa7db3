import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser, type ApiClient } from '../helpers/http.helper.js';
import { waitFor } from '../helpers/instance.helper.js';

/** Reads a Server-Sent Events stream until `done` says stop or the time runs out. */
function readSse(url: string, cookie: string, done: (events: { event: string; data: any }[]) => boolean, timeoutMs = 120_000): Promise<{ event: string; data: any }[]> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: any }[] = [];
    const req = http.get(url, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        if (done(events)) {
          clearTimeout(timer);
          req.destroy();
          resolve(events);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`SSE timed out with ${events.length} events`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (!events.length) reject(e);
    });
  });
}

describe('instance API: templates, live logs and live state', () => {
  let t: TestApp;
  let admin: ApiClient;
  let cookie: string;
  let pid: string;

  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 10) } });
    admin = (await newUser(t.url, undefined, 'tmpl')).client;
    const login = await fetch(`${t.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: (await admin.get('/api/me')).body.email, password: 'correct horse battery' }) });
    cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    pid = (await admin.get('/api/projects')).body.items[0].id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lets admins register templates whose flows and limits new instances get', async () => {
    const template = {
      id: 'hello-api',
      name: 'Hello API',
      description: 'one endpoint',
      flows: [
        { id: 'tt', type: 'tab', label: 'Hello' },
        { id: 'hi', type: 'http in', z: 'tt', url: '/hi', method: 'get', wires: [['hr']] },
        { id: 'hr', type: 'http response', z: 'tt', wires: [] },
      ],
      settings: {},
      env: { GREETING: 'hi' },
      memory: { min: 192, max: 512, default: 320 },
      cpu: { min: 0.25, max: 1, default: 0.5 },
    };
    const member = await newUser(t.url, admin, 'tmpl-member');
    expect((await member.client.post('/api/templates', template)).status).toBe(403);
    expect((await admin.post('/api/templates', template)).status).toBe(201);
    expect((await admin.post('/api/templates', template)).body.code).toBe('template_exists');
    const ids = (await member.client.get('/api/templates')).body.items.map((x: any) => x.id);
    expect(ids).toEqual(expect.arrayContaining(['blank', 'starter', 'hello-api']));
    const inst = await admin.post(`/api/projects/${pid}/instances`, { subdomain: 'from-template', template: 'hello-api' });
    expect(inst.body).toMatchObject({ template: 'hello-api', memoryMb: 320, cpu: 0.5, env: { GREETING: 'hi' } });
    expect((await admin.post(`/api/projects/${pid}/instances`, { subdomain: 'too-big', template: 'hello-api', memoryMb: 1024 })).body.code).toBe('limit_out_of_bounds');
  });

  it('streams instance state over SSE and log lines with ?follow=1', { timeout: 150_000 }, async () => {
    const id = (await admin.post(`/api/projects/${pid}/instances`, { subdomain: 'streamed' })).body.id;
    const states = readSse(`${t.url}/api/projects/${pid}/events`, cookie, (ev) => ev.some((e) => e.event === 'instance' && e.data.id === id && e.data.state === 'running'));
    const logs = readSse(`${t.url}/api/instances/${id}/logs?follow=1`, cookie, (ev) => ev.some((e) => e.event === 'line' && /Started flows|Server now running/.test(e.data.line)));
    await new Promise((r) => setTimeout(r, 300));
    expect((await admin.post(`/api/instances/${id}/start`)).status).toBe(202);
    const seen = await states;
    expect(seen[0]!.event).toBe('snapshot');
    const sequence = seen.filter((e) => e.event === 'instance' && e.data.id === id).map((e) => e.data.state);
    expect(sequence).toEqual(expect.arrayContaining(['starting', 'running']));
    expect((await logs).length).toBeGreaterThan(0);
    await waitFor('running', async () => (await admin.get(`/api/instances/${id}`)).body.state === 'running');
    const outsider = await newUser(t.url, admin, 'sse-outsider');
    expect((await outsider.client.get(`/api/instances/${id}/logs`)).status).toBe(404);
    expect((await outsider.client.get(`/api/projects/${pid}/events`)).status).toBe(404);
  });
});
