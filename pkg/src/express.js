// Express / Connect middleware for a Node origin behind the gateway: verifies the assertion header
// and puts the identity in `req.sessiongate`; refuses requests that did not come through the gateway.
// `login(res, user, data)` and `logout(res, scope)` write the control headers the gateway acts on
// (docs/origin-protocol.md), checked as the gateway checks them.
import { AssertionError, createAssertionVerifier } from './origin-node.js';

/**
 * `sessiongate({ secret, audience?, header?, optional?, setUser?, passErrors?, clockSkewSeconds? })`:
 * with a valid assertion, sets `req.sessiongate` (`{ user, sessionHandle, data, claims }`), and
 * `req.user` (the user id) only with `setUser: true`. Without one, answers 401 JSON
 * `{ error: "assertion_<code>", message }`, or with `passErrors: true` calls `next(err)` with the
 * `AssertionError` (`status` 401, `code`). With `optional: true`, a request that carries no assertion
 * at all continues without an identity (a bad one is still refused). Mount it on the routes the
 * gateway protects: its public paths and CORS preflights carry no assertion.
 */
export function sessiongate(options) {
  if (options == null || typeof options !== 'object') {
    throw new TypeError("sessiongate(options) needs { secret }: the gateway's ASSERTION_SECRET");
  }
  const {
    secret,
    audience,
    header = 'x-sessiongate-assertion',
    optional = false,
    setUser = false,
    passErrors = false,
    clockSkewSeconds = 5,
    now,
  } = options;
  const verifier = createAssertionVerifier({ secret, audience, clockSkewSeconds, ...(now ? { now } : {}) });
  const headerName = String(header).toLowerCase();
  return function sessiongateMiddleware(req, res, next) {
    const value = req.headers[headerName];
    let verified;
    try {
      verified = verifier.verify(Array.isArray(value) ? undefined : value);
    } catch (error) {
      if (!(error instanceof AssertionError)) return next(error);
      if (optional && error.code === 'missing') return next();
      if (passErrors) return next(error);
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(JSON.stringify({ error: `assertion_${error.code}`, message: error.message }));
      return undefined;
    }
    req.sessiongate = verified;
    if (setUser) req.user = verified.user;
    // Outside the try: an error thrown by a later handler is not an assertion refusal.
    return next();
  };
}

const LOGIN_HEADER = 'Sessiongate-Login';
const LOGOUT_HEADER = 'Sessiongate-Logout';
/** The gateway's limits (src/session.rs): a user id's length, a session data object's bytes. */
const MAX_USER_LEN = 256;
const MAX_DATA_LEN = 2048;

function checkResponse(res, call) {
  if (res == null || typeof res.setHeader !== 'function') {
    throw new TypeError(`${call} needs the response (an object with setHeader), as its first argument`);
  }
}

/** Clears the other control header: the gateway refuses a response that carries both. */
function removeHeader(res, name) {
  if (typeof res.removeHeader === 'function') res.removeHeader(name);
}

/**
 * JSON with every character outside printable ASCII written as `\uXXXX` (characters beyond U+FFFF
 * as their surrogate pair), so the text is a valid header value and decodes back to the same strings.
 */
function asciiJson(value) {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `login(res, user, data?)`: tells the gateway to log `user` in, with `data` (a plain object, at
 * most 2048 bytes as sent) passed back in every assertion of the session. Sets the
 * `Sessiongate-Login` header (ASCII-only JSON) and removes any `Sessiongate-Logout`; returns `res`.
 * Throws a TypeError when the gateway would refuse the header (it answers 502 then).
 */
export function login(res, user, data) {
  checkResponse(res, 'login(res, user, data)');
  if (
    typeof user !== 'string'
    || user.length < 1
    || user.length > MAX_USER_LEN
    || !/^[\x20-\x7e]+$/.test(user)
    || user.startsWith(' ')
    || user.endsWith(' ')
  ) {
    const shown = typeof user === 'string' ? `a string of ${user.length} characters` : typeof user;
    throw new TypeError(
      `login(res, user, data): user must be 1-${MAX_USER_LEN} printable ASCII characters, `
      + `without a leading or trailing space (got ${shown})`,
    );
  }
  // User ids are printable ASCII: JSON.stringify escapes only `"` and `\\` in them.
  let header = `{"user":${JSON.stringify(user)}`;
  if (data !== undefined && data !== null) {
    if (!isPlainObject(data)) {
      const kind = Array.isArray(data) ? 'an array'
        : typeof data === 'object' ? `a ${data.constructor?.name ?? 'non-plain'} object` : typeof data;
      throw new TypeError(`login(res, user, data): data must be a plain object (or omitted), got ${kind}`);
    }
    let text;
    try {
      text = asciiJson(data);
    } catch (error) {
      throw new TypeError(`login(res, user, data): data is not serializable as JSON (${error.message})`);
    }
    if (typeof text !== 'string' || !text.startsWith('{')) {
      throw new TypeError('login(res, user, data): data must serialize to a JSON object (check its toJSON)');
    }
    // What the gateway measures: the data's text exactly as sent (ASCII, so bytes = characters).
    if (text.length > MAX_DATA_LEN) {
      throw new TypeError(
        `login(res, user, data): data is ${text.length} bytes as sent, more than the gateway's ${MAX_DATA_LEN} `
        + '(a character outside ASCII is sent as a 6-byte \\uXXXX escape, one beyond U+FFFF as two)',
      );
    }
    header += `,"data":${text}`;
  }
  removeHeader(res, LOGOUT_HEADER);
  res.setHeader(LOGIN_HEADER, `${header}}`);
  return res;
}

/**
 * `logout(res, scope = 'session')`: tells the gateway to end the current session (`'session'`) or
 * every session of the current user on every device (`'all'`). Sets the `Sessiongate-Logout` header
 * and removes any `Sessiongate-Login`; returns `res`.
 */
export function logout(res, scope = 'session') {
  checkResponse(res, "logout(res, 'session' | 'all')");
  if (scope !== 'session' && scope !== 'all') {
    throw new TypeError(`logout(res, scope): scope must be 'session' or 'all', got ${typeof scope === 'string' ? JSON.stringify(scope) : typeof scope}`);
  }
  removeHeader(res, LOGIN_HEADER);
  res.setHeader(LOGOUT_HEADER, scope);
  return res;
}

export { AssertionError };
export { returnTo, safeReturnPath } from './return-path.js';
export default sessiongate;
