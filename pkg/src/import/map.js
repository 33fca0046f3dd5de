// Maps one old express-session session onto what the record builder takes
// (`{"id","user","data"?,"user_agent"?,"expires","created"?}`), or says why it is skipped.
// Nothing here knows the gateway's layout: that is the Wasm builder's job.

/** Reasons a session is skipped before the builder sees it (the builder adds its own). */
export const MAP_SKIPS = ['not_decryptable', 'not_json', 'anonymous', 'not_required', 'invalid_user', 'invalid_data'];

/** `a.b.c` → ['a', 'b', 'c']; empty segments are refused. */
export function parsePath(text, what) {
  const parts = String(text).split('.');
  if (parts.some((p) => p === '')) throw new TypeError(`${what}: "${text}" is not a path like passport.user`);
  return parts;
}

function at(object, parts) {
  let value = object;
  for (const part of parts) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) {
      return undefined;
    }
    value = value[part];
  }
  return value;
}

function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}

/** Time in Unix ms from a Date, an ISO string or a number of ms; null when there is none. */
export function timeMs(value) {
  if (value === null || value === undefined || value === '') return null;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The mapping options: `user` (path, default passport.user), `require` ([path, json] pairs),
 * `data` ([name, path] pairs), `userAgent` (path or null).
 */
export function createMapper({ user = 'passport.user', require = [], data = [], userAgent = null } = {}) {
  const userPath = parsePath(user, '--user');
  const required = require.map(([path, value]) => [parsePath(path, '--require'), value]);
  const fields = data.map(([name, path]) => [name, parsePath(path, '--data')]);
  const uaPath = userAgent ? parsePath(userAgent, '--user-agent-field') : null;

  /**
   * `item`: `{ id, session, storeExpires }`; `session` is the session object or its JSON text.
   * Returns `{ old }` (what the builder takes, with `user` for the manifest) or `{ skip }`.
   */
  return function map({ id, session, storeExpires = null, skip }) {
    if (skip) return { skip };
    let sess = session;
    if (typeof sess === 'string' || Buffer.isBuffer(sess)) {
      try {
        sess = JSON.parse(String(sess));
      } catch {
        return { skip: 'not_json' };
      }
    }
    if (sess === null || typeof sess !== 'object' || Array.isArray(sess)) return { skip: 'not_json' };

    const rawUser = at(sess, userPath);
    if (rawUser === undefined || rawUser === null) return { skip: 'anonymous' };
    let userText;
    if (typeof rawUser === 'string') userText = rawUser;
    else if (typeof rawUser === 'number' && Number.isFinite(rawUser) && !/e/i.test(String(rawUser))) {
      userText = String(rawUser); // decimal text
    } else return { skip: 'invalid_user' }; // objects, arrays, booleans, 1e21…
    for (const [path, value] of required) {
      if (!sameJson(at(sess, path), value)) return { skip: 'not_required' };
    }

    const old = { id: String(id), user: userText, expires: 0 };
    if (fields.length) {
      const picked = {};
      for (const [name, path] of fields) {
        const value = at(sess, path);
        if (value !== undefined) picked[name] = value;
      }
      try {
        JSON.stringify(picked);
      } catch {
        return { skip: 'invalid_data' };
      }
      old.data = picked;
    }
    if (uaPath) {
      const ua = at(sess, uaPath);
      if (typeof ua === 'string' && ua !== '') old.user_agent = ua;
    }

    // Absolute expiry: the earlier of the cookie's and the store's own; the builder caps it by
    // ABSOLUTE_TIMEOUT from `created`. A session with neither never expired in the old store.
    const cookie = sess.cookie && typeof sess.cookie === 'object' ? sess.cookie : {};
    const cookieExpires = timeMs(cookie.expires);
    const candidates = [cookieExpires, timeMs(storeExpires)].filter((t) => t !== null);
    old.expires = candidates.length ? Math.max(0, Math.floor(Math.min(...candidates))) : Number.MAX_SAFE_INTEGER;
    // express-session keeps no creation time; `expires - originalMaxAge` is when the cookie was
    // last (re)set, the closest it knows.
    if (cookieExpires !== null && typeof cookie.originalMaxAge === 'number' && cookie.originalMaxAge > 0) {
      const created = Math.floor(cookieExpires - cookie.originalMaxAge);
      if (created > 0) old.created = created;
    }
    return { old };
  };
}
