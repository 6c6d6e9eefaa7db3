'use strict';
// Openflow's auth layer inside one Node-RED instance. settings.js loads it before red.js creates the HTTP server.
//
// Model: the instance's magic token is the only admin credential. Browsers carry it in an HttpOnly cookie set by the
// Launch redirect; this module turns that cookie into `Authorization: Bearer <magic>` for Node-RED's admin routes and
// for the /comms upgrade, refuses cookie auth on cross-origin requests, and keeps the token away from flows.

const crypto = require('node:crypto');
const http = require('node:http');

const COOKIE_NAME = 'openflow_token';
const COOKIE_MAX_AGE_SECONDS = 30 * 24 * 60 * 60;
const AUTH_TIMEOUT_MS = 5000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const EDITOR_USER = Object.freeze({ username: 'openflow', permissions: '*' });

function takeSecret(env, name) {
  const value = env[name];
  delete env[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

// Read once and removed at once: env.get() in a function node, ${VAR} substitution in node properties and processes
// started by exec nodes all read process.env, and none of them may see these.
const magicToken = takeSecret(process.env, 'OPENFLOW_MAGIC_TOKEN');
const instanceSecret = takeSecret(process.env, 'OPENFLOW_INSTANCE_SECRET');
const authUrl = process.env.OPENFLOW_AUTH_URL || null;
const managerUrl = process.env.OPENFLOW_MANAGER_URL || null;
const instanceId = process.env.OPENFLOW_INSTANCE_ID || null;

function digest(value) {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

const magicDigest = magicToken === null ? null : digest(magicToken);

// Hashing first gives equal-length buffers, which timingSafeEqual requires, without leaking the token's length.
function isMagic(candidate) {
  if (magicDigest === null || typeof candidate !== 'string' || candidate === '') {
    return false;
  }
  return crypto.timingSafeEqual(digest(candidate), magicDigest);
}

function tokens(token) {
  return Promise.resolve(isMagic(token) ? { ...EDITOR_USER } : null);
}

function bearerValue(header) {
  if (typeof header !== 'string') {
    return null;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

function isMagicBearer(header) {
  return isMagic(bearerValue(header));
}

function decodeCookieValue(raw) {
  const unquoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  try {
    return decodeURIComponent(unquoted);
  } catch {
    return unquoted;
  }
}

// Every value sent under our cookie name: a sibling subdomain can plant a second one with a parent Domain attribute,
// and that must not shadow the real one.
function cookieValues(cookieHeader) {
  if (typeof cookieHeader !== 'string') {
    return [];
  }
  const values = [];
  for (const pair of cookieHeader.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === COOKIE_NAME) {
      values.push(decodeCookieValue(pair.slice(eq + 1).trim()));
    }
  }
  return values;
}

function withoutOurCookie(cookieHeader) {
  const kept = cookieHeader
    .split(';')
    .filter((pair) => {
      const eq = pair.indexOf('=');
      const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
      return name !== COOKIE_NAME && pair.trim() !== '';
    })
    .map((pair) => pair.trim());
  return kept.length === 0 ? null : kept.join('; ');
}

// Flows get the request object itself (msg.req), so both the parsed headers and rawHeaders must be cleaned.
function stripMagicFromRequest(req) {
  if (typeof req.headers.cookie === 'string') {
    const cookie = withoutOurCookie(req.headers.cookie);
    if (cookie === null) {
      delete req.headers.cookie;
    } else {
      req.headers.cookie = cookie;
    }
  }
  if (isMagicBearer(req.headers.authorization)) {
    delete req.headers.authorization;
  }
  const raw = req.rawHeaders;
  if (Array.isArray(raw)) {
    const cleaned = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = String(raw[i]).toLowerCase();
      let value = raw[i + 1];
      if (name === 'cookie') {
        value = withoutOurCookie(String(value));
      } else if (name === 'authorization' && isMagicBearer(value)) {
        value = null;
      }
      if (value !== null) {
        cleaned.push(raw[i], value);
      }
    }
    raw.splice(0, raw.length, ...cleaned);
  }
}

function removeCredentials(req) {
  delete req.headers.cookie;
  delete req.headers.authorization;
}

function splitUrl(url) {
  const raw = typeof url === 'string' ? url : '/';
  const q = raw.indexOf('?');
  return q === -1 ? { pathname: raw, query: '' } : { pathname: raw.slice(0, q), query: raw.slice(q + 1) };
}

function queryKey(part) {
  const eq = part.indexOf('=');
  const key = (eq === -1 ? part : part.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

function queryValue(part) {
  const eq = part.indexOf('=');
  const value = eq === -1 ? '' : part.slice(eq + 1).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function accessTokenParts(query) {
  return query === '' ? [] : query.split('&').filter((part) => queryKey(part) === 'access_token');
}

// Keeps every other parameter byte for byte; only access_token goes.
function queryWithoutAccessToken(query) {
  return query === '' ? '' : query.split('&').filter((part) => part !== '' && queryKey(part) !== 'access_token').join('&');
}

// Origin must name exactly the host the request was sent to (host and port, default port per Origin's scheme).
// Sibling instances share a site, so SameSite=Lax alone would let one instance's page drive another's admin API.
function sameOrigin(origin, hostHeader) {
  if (typeof origin !== 'string' || origin === 'null' || typeof hostHeader !== 'string' || hostHeader === '') {
    return false;
  }
  try {
    const from = new URL(origin);
    const to = new URL(`${from.protocol}//${hostHeader}`);
    return from.host === to.host && to.pathname === '/' && to.username === '' && to.password === '';
  } catch {
    return false;
  }
}

function isHttps(req) {
  if (req.secure === true) {
    return true;
  }
  const forwarded = req.headers['x-forwarded-proto'];
  const first = typeof forwarded === 'string' ? forwarded.split(',')[0] : '';
  return first.trim().toLowerCase() === 'https';
}

function cookieAttributes(req, maxAge) {
  return `Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${isHttps(req) ? '; Secure' : ''}`;
}

function appendSetCookie(res, value) {
  const existing = res.getHeader('Set-Cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...list, value]);
}

function clearCookie(req, res) {
  appendSetCookie(res, `${COOKIE_NAME}=; ${cookieAttributes(req, 0)}`);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendPage(res, status, title, message, dashboardUrl) {
  const body = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
<p><a href="${escapeHtml(dashboardUrl)}">Back to the Openflow dashboard</a></p>
</body></html>
`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

// Outcome of asking the manager about a launch token: 'valid', 'rejected' (4xx) or 'unavailable'.
async function redeem(accessToken) {
  if (authUrl === null || instanceSecret === null || magicToken === null) {
    return 'unavailable';
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), AUTH_TIMEOUT_MS);
  try {
    const response = await fetch(authUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${instanceSecret}` },
      body: JSON.stringify({ accessToken }),
      redirect: 'error',
      signal: controller.signal,
    });
    if (response.status >= 400 && response.status < 500) {
      return 'rejected';
    }
    if (response.status !== 200) {
      return 'unavailable';
    }
    const body = await response.json();
    return body !== null && typeof body === 'object' && body.ok === true ? 'valid' : 'rejected';
  } catch (err) {
    console.warn(`[openflow] launch check failed: ${err && err.name ? err.name : 'error'}`);
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

function createShim(options) {
  const dashboardUrl = String(options.dashboardUrl);
  const nodeRoot = String(options.httpNodeRoot).replace(/\/+$/, '').toLowerCase();

  // Express matches mount paths case-insensitively, so /API/x reaches the flows as well.
  function isNodePath(pathname) {
    const lower = pathname.toLowerCase();
    return lower === nodeRoot || lower.startsWith(`${nodeRoot}/`);
  }

  function validCookie(values) {
    return values.find(isMagic);
  }

  function launch(req, res, url, parts) {
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    const token = parts.length === 1 ? queryValue(parts[0]) : '';
    const outcome = token === '' ? Promise.resolve('rejected') : redeem(token);
    outcome.then((result) => {
      if (result === 'valid') {
        appendSetCookie(res, `${COOKIE_NAME}=${encodeURIComponent(magicToken)}; ${cookieAttributes(req, COOKIE_MAX_AGE_SECONDS)}`);
        // A path such as //evil.example would otherwise become a protocol-relative redirect off-site.
        const path = `/${url.pathname.replace(/^[/\\]+/, '')}`;
        const query = queryWithoutAccessToken(url.query);
        res.statusCode = 302;
        res.setHeader('Location', query === '' ? path : `${path}?${query}`);
        res.setHeader('Content-Length', 0);
        res.end();
      } else if (result === 'rejected') {
        sendPage(res, 401, 'Launch link expired', 'This launch link has expired or has already been used. Open the instance again from the Openflow dashboard.', dashboardUrl);
      } else {
        sendPage(res, 502, 'Sign-in unavailable', 'The instance could not check this launch link with Openflow right now. Try again from the Openflow dashboard.', dashboardUrl);
      }
    });
  }

  function httpAdminMiddleware(req, res, next) {
    const url = splitUrl(req.originalUrl || req.url);
    if (isNodePath(url.pathname)) {
      stripMagicFromRequest(req);
      next();
      return;
    }
    const parts = accessTokenParts(url.query);
    if (req.method === 'GET' && parts.length > 0) {
      launch(req, res, url, parts);
      return;
    }

    const explicitAuthorization = req.headers.authorization;
    const origin = req.headers.origin;
    let cookieAllowed;
    if (origin !== undefined) {
      // A page served under Referrer-Policy: no-referrer sends `Origin: null` even to itself; Sec-Fetch-Site is set by
      // the browser alone and is never same-origin for an opaque origin, so together they still prove the page's own.
      cookieAllowed = sameOrigin(origin, req.headers.host) || (origin === 'null' && req.headers['sec-fetch-site'] === 'same-origin');
      if (!cookieAllowed) {
        delete req.headers.authorization;
      }
    } else {
      // Browsers send Origin on every unsafe request; without one this is a script, which must say Authorization.
      cookieAllowed = SAFE_METHODS.has(req.method);
    }

    const values = cookieValues(req.headers.cookie);
    const valid = validCookie(values);
    if (cookieAllowed && values.length > 0) {
      // The cookie wins over a header the editor may still send from an old localStorage entry.
      req.headers.authorization = `Bearer ${valid !== undefined ? valid : values[0]}`;
    }

    const lowerPath = url.pathname.toLowerCase().replace(/\/+$/, '');
    if (req.method === 'GET' && lowerPath === '' && explicitAuthorization === undefined && !(cookieAllowed && valid !== undefined)) {
      if (values.length > 0) {
        clearCookie(req, res);
      }
      res.statusCode = 302;
      res.setHeader('Location', dashboardUrl);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Length', 0);
      res.end();
      return;
    }
    if (req.method === 'POST' && lowerPath === '/auth/revoke' && (origin === undefined || cookieAllowed)) {
      clearCookie(req, res);
    }
    next();
  }

  function guardUpgrade(req) {
    const { pathname } = splitUrl(req.url);
    if (isNodePath(pathname)) {
      stripMagicFromRequest(req);
      return;
    }
    const origin = req.headers.origin;
    if (origin === undefined) {
      // Like an unsafe request without Origin: only an explicit Authorization header may authenticate it.
      delete req.headers.cookie;
      return;
    }
    if (!sameOrigin(origin, req.headers.host)) {
      removeCredentials(req);
      return;
    }
    const values = cookieValues(req.headers.cookie);
    if (values.length > 0) {
      const valid = validCookie(values);
      req.headers.authorization = `Bearer ${valid !== undefined ? valid : values[0]}`;
    }
  }

  // httpAdminMiddleware never sees WebSocket upgrades, and Node-RED's /comms handler authenticates an upgrade from
  // its Authorization header. red.js requires settings.js first and creates its one server afterwards, so wrapping
  // http.createServer for that single call puts our listener ahead of every upgrade handler Node-RED or a flow adds.
  // The alternative, a runtime plugin calling RED.server.prependListener, depends on plugin loading succeeding; this
  // does not. Settings never enable https here (TLS ends at the proxy), so https.createServer is left alone.
  function installUpgradeGuard() {
    const original = http.createServer;
    http.createServer = function createServerWithGuard(...args) {
      http.createServer = original;
      const server = original.apply(this, args);
      server.prependListener('upgrade', guardUpgrade);
      return server;
    };
  }

  return { tokens, httpAdminMiddleware, guardUpgrade, installUpgradeGuard };
}

const MANAGER_PATH = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;

// Openflow's own editor plugin calls the manager as this instance. It gets this function, never the secret: the
// secret left process.env above, and flows cannot require modules by path. Only this instance's internal API is
// reachable, and the path is checked so `..` or a query cannot widen that.
async function callManager(method, subPath, body, timeoutMs) {
  if (managerUrl === null || instanceId === null || instanceSecret === null) {
    return { status: 503, body: { code: 'manager_unavailable', message: 'This instance has no Openflow manager to call' } };
  }
  if (typeof subPath !== 'string' || !MANAGER_PATH.test(subPath)) {
    throw new TypeError(`not a manager path: ${subPath}`);
  }
  const query =
    method === 'GET' && body !== null && typeof body === 'object'
      ? Object.entries(body)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join('&')
      : '';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs || 120_000);
  let response;
  let text;
  try {
    response = await fetch(`${managerUrl}/api/internal/instances/${encodeURIComponent(instanceId)}/${subPath}${query === '' ? '' : `?${query}`}`, {
      method,
      headers: { authorization: `Bearer ${instanceSecret}`, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
      body: method === 'GET' ? undefined : JSON.stringify(body === undefined ? {} : body),
      redirect: 'error',
      signal: controller.signal,
    });
    text = await response.text();
  } finally {
    clearTimeout(timer);
  }
  let parsed = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { code: 'bad_gateway', message: 'The manager sent an unreadable answer' };
  }
  return { status: response.status, body: parsed };
}

module.exports = { createShim, tokens, callManager };
