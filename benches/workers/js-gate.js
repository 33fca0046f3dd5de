// (c) What a Workers user would write instead of sessiongate, in plain JavaScript with Web Crypto
// and KV, doing the same checks for an authenticated request: parse the Cookie header (first
// occurrence wins), verify the cookie-signature HMAC (key imported once per isolate, constant-time
// verify through crypto.subtle.verify), read the record and its activity from KV in one bulk read, check
// idle and absolute expiry and the user-agent fingerprint (SHA-256), remove client-supplied identity
// headers and the session cookie, mint the HS256 assertion, forward, log one line. Written to be fast and fair:
// no allocation it does not need, keys prepared once.
const enc = new TextEncoder();
let keys;

async function prepare(env) {
  const hmac = (secret, usage) => crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, usage);
  return { session: await hmac(env.SESSION_SECRET, ['verify']), assertion: await hmac(env.ASSERTION_SECRET, ['sign']) };
}

/** The session handle sessiongate puts in `sid`: a keyed hash of the id, never the id. */
async function handleOf(id) {
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', keys.assertion, enc.encode(`sessiongate/session-handle/v1:${id}`)));
  return base64url(mac).slice(0, 22);
}

function findCookie(header, name) {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length > 1 && value[0] === '"' && value.at(-1) === '"') value = value.slice(1, -1);
    try {
      return value.includes('%') ? decodeURIComponent(value) : value;
    } catch {
      return value;
    }
  }
  return null;
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const JWT_HEADER = base64url(enc.encode('{"alg":"HS256","typ":"JWT"}'));

// One JSON log line per decision, as sessiongate writes (without it the comparison would not be
// like for like: under workerd the line goes through the runtime's stdout).
const log = (line) => console.log(JSON.stringify(line));
const refuse = (status, error) => {
  log({ event: 'refuse', status, code: error });
  return Response.json({ error }, { status, headers: { 'cache-control': 'no-store' } });
};
const IDENTITY = ['x-sessiongate-user', 'x-sessiongate-assertion'];

export default {
  async fetch(request, env) {
    keys ??= await prepare(env);
    const signed = findCookie(request.headers.get('cookie') ?? '', env.COOKIE_NAME);
    if (!signed) return refuse(401, 'missing_session');
    const dot = signed.lastIndexOf('.');
    if (!signed.startsWith('s:') || dot < 0 || signed.length - dot - 1 !== 43) return refuse(401, 'invalid_session_cookie');
    const id = signed.slice(2, dot);
    let signatureOk = false;
    try {
      signatureOk = await crypto.subtle.verify('HMAC', keys.session, fromBase64(signed.slice(dot + 1)), enc.encode(id));
    } catch {
      signatureOk = false;
    }
    if (!signatureOk || !/^[A-Za-z0-9_-]{22,64}$/.test(id)) return refuse(401, 'invalid_session_cookie');

    const found = await env.SESSIONS.get([`sess:${id}`, `seen:${id}`]);
    const recordText = found.get(`sess:${id}`);
    const activityText = found.get(`seen:${id}`);
    if (recordText == null) return refuse(401, 'unknown_session');
    const record = JSON.parse(recordText);
    const activity = activityText ? JSON.parse(activityText) : null;
    const idleExpires = activity && activity.last_seen > record.last_seen ? Math.min(activity.idle_expires, record.absolute_expires) : record.idle_expires;
    const now = Date.now();
    if (now >= record.absolute_expires || now >= idleExpires) return refuse(401, 'session_expired');
    if (record.ua !== null) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(request.headers.get('user-agent') ?? '')));
      if (base64url(digest) !== record.ua) return refuse(401, 'user_agent_mismatch');
    }

    const headers = new Headers(request.headers);
    for (const name of IDENTITY) headers.delete(name);
    const others = (request.headers.get('cookie') ?? '').split(';').filter((p) => p.split('=')[0].trim() !== env.COOKIE_NAME);
    if (others.length) headers.set('cookie', others.map((p) => p.trim()).join('; '));
    else headers.delete('cookie');
    const iat = Math.floor(now / 1000);
    const claims = { iss: 'sessiongate', sub: record.user, sid: await handleOf(id), iat, exp: iat + 60 };
    if (record.data) claims.data = record.data;
    const body = `${JWT_HEADER}.${base64url(enc.encode(JSON.stringify(claims)))}`;
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', keys.assertion, enc.encode(body)));
    headers.set('x-sessiongate-user', record.user);
    headers.set('x-sessiongate-assertion', `${body}.${base64url(mac)}`);
    const url = new URL(request.url);
    const response = await fetch(env.ORIGIN_URL + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: 'manual' });
    log({ event: 'forward', status: response.status, sid: claims.sid, user: record.user, method: request.method, path: url.pathname });
    return response;
  },
};
