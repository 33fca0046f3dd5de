// The sign-in return path, read back safely: the same rules as the gateway's own
// (`safe_return_path` in src/gate/browser.rs), tested against the same table
// (tests/fixtures/return-paths.json).

/** Longest return path accepted, in bytes (ASCII only, so characters); a longer one becomes `/`. */
export const MAX_RETURN_PATH_LENGTH = 2048;

/**
 * `value` if it is a same-origin relative path that no browser or framework reads as another host,
 * else `'/'`: one leading `/` (not `//` or `/\`), printable ASCII only (no space, tab, CR, LF or other
 * control character), no backslash, no `%2F` or `%5C` before the query, at most 2048 bytes.
 * Anything that is not a string becomes `'/'`.
 */
export function safeReturnPath(value) {
  if (typeof value !== 'string' || value.length > MAX_RETURN_PATH_LENGTH) return '/';
  if (value[0] !== '/' || value[1] === '/' || value[1] === '\\') return '/';
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e || code === 0x5c) return '/';
  }
  const path = value.split(/[?#]/, 1)[0].toLowerCase();
  if (path.includes('%2f') || path.includes('%5c')) return '/';
  return value;
}

/**
 * The return path of a request to the sign-in page: its `param` query parameter (default
 * `return_to`, the gateway's LOGIN_RETURN_PARAM), made safe with `safeReturnPath`; `fallback`
 * (default `'/'`, itself made safe) when absent. Reads Express's `req.query` when present, else
 * the query of `req.url` (`req.originalUrl` first). A repeated parameter is refused (`fallback`).
 */
export function returnTo(req, { param = 'return_to', fallback = '/' } = {}) {
  let value;
  if (req?.query && typeof req.query === 'object') {
    value = req.query[param];
  } else {
    const url = req?.originalUrl ?? req?.url ?? '';
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const values = new URLSearchParams(query).getAll(param);
    value = values.length === 1 ? values[0] : values.length === 0 ? undefined : [];
  }
  if (value === undefined) return safeReturnPath(fallback);
  return typeof value === 'string' ? safeReturnPath(value) : safeReturnPath(fallback);
}
