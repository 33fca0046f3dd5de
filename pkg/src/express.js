// Express / Connect middleware for a Node origin behind the gateway: verifies the assertion header
// and puts the identity in `req.sessiongate`; refuses requests that did not come through the gateway.
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

export { AssertionError };
export { returnTo, safeReturnPath } from './return-path.js';
export default sessiongate;
