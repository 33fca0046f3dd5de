// Express / Connect middleware for a Node origin behind the gateway: verifies the assertion header
// and sets `req.user`; refuses requests that did not come through the gateway.
import { AssertionError, createAssertionVerifier } from './origin-node.js';

/**
 * `sessiongate({ secret, header?, optional?, clockSkewSeconds? })`: with a valid assertion, sets
 * `req.user` (the user id) and `req.sessiongate` (`{ user, sessionHandle, data, claims }`). Without
 * one, answers 401 JSON `{ error: "assertion_<code>", message }`, or with `optional: true` leaves
 * `req.user` undefined and continues (for routes that are public at the gateway).
 */
export function sessiongate({
  secret,
  header = 'x-sessiongate-assertion',
  optional = false,
  clockSkewSeconds = 5,
  now,
} = {}) {
  const verifier = createAssertionVerifier({ secret, clockSkewSeconds, ...(now ? { now } : {}) });
  const headerName = header.toLowerCase();
  return function sessiongateMiddleware(req, res, next) {
    const value = req.headers[headerName];
    const token = Array.isArray(value) ? undefined : value;
    try {
      const verified = verifier.verify(token);
      req.user = verified.user;
      req.sessiongate = verified;
      next();
    } catch (error) {
      if (!(error instanceof AssertionError)) return next(error);
      if (optional && error.code === 'missing') return next();
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(JSON.stringify({ error: `assertion_${error.code}`, message: error.message }));
    }
  };
}

export { AssertionError };
export default sessiongate;
