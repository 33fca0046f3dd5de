// Adversarial catalogue, class "public paths": PUBLIC_PATHS matching through the real Worker. It
// fails closed: a path the gateway and the origin could read differently is never public.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorCode, request, originAndGateway } from './helpers.mjs';

const { origin, gateway } = await originAndGateway({ vars: { PUBLIC_PATHS: '/health,/login,/static/*' } });

/** Each path is refused with missing_session and none reaches the origin. */
async function notPublic(paths) {
  const before = origin.requests.length;
  for (const path of paths) {
    const res = await request(gateway.url, 'GET', path);
    assert.equal(res.status, 401, `${path}: ${res.status} ${res.body}`);
    assert.equal(errorCode(res), 'missing_session', path);
  }
  assert.equal(origin.requests.length, before, 'none of them reached the origin');
}
/** Each path is public and reaches the origin as `forwardedAs` (default: as sent). */
async function isPublic(path, forwardedAs = path) {
  const res = await request(gateway.url, 'GET', path);
  assert.equal(res.status, 200, `${path}: ${res.body}`);
  assert.equal(origin.requests.at(-1).url, forwardedAs, path);
}

describe('public paths: dot segments', () => {
  // The runtime resolves literal dot segments before the gateway sees the path, so the decision and
  // the forwarded path agree: a `..` that leaves the public subtree lands on a private path.
  test('public paths: .. out of a public subtree', () => notPublic(['/static/../echo', '/login/../echo', '/static/a/../../echo']));
  test('public paths: dot segments resolved by the runtime inside the subtree stay public, forwarded resolved', async () => {
    await isPublic('/static/a/../app.js', '/static/app.js');
    // WHATWG URL parsing also reads %2E / %2e segments as dot segments.
    await isPublic('/static/%2E/app.js', '/static/app.js');
    await isPublic('/static/a/%2e%2E/app.js', '/static/app.js');
  });
  test('public paths: encoded dots out of the subtree or inside a segment are never public', () => notPublic([
    '/static/%2E%2E/echo', '/static/%2e%2e%2fecho', '/static/.%2E/echo', '/static/%2e./echo', '/health%2E', '/static/a%2E%2E',
  ]));
  test('public paths: a trailing dot segment', () => notPublic(['/health/.', '/health/..']));
});

describe('public paths: separators', () => {
  test('public paths: encoded slash (%2F, %2f) is never public', () => notPublic(['/health%2F', '/health%2f..%2fecho', '/static%2Fapp.js', '/static/a%2Fb']));
  test('public paths: backslash, raw or encoded', () => notPublic(['/static\\..\\echo', '/static/a%5C..%5Cecho', '/static/a%5cb']));
  test('public paths: empty segments (//)', () => notPublic(['//health', '/static//app.js', '//static/app.js', '/health//']));
  test('public paths: a semicolon (path parameters)', () => notPublic(['/health;', '/health;x', '/health;jsessionid=1', '/static/app.js;x', '/health%3Bx']));
  test('public paths: a trailing slash on an exact path', () => notPublic(['/health/']));
  test('public paths: the subtree root without its slash, and look-alike prefixes', () => notPublic(['/static', '/staticx/app.js', '/static.js', '/healthz', '/health/x', '/loginx']));
});

describe('public paths: query and fragment', () => {
  test('public paths: a query never makes a path public', () => notPublic(['/echo?/health', '/echo?next=/health', '/echo?%2Fhealth', '/echo?path=/static/x']));
  test('public paths: a fragment (not sent by browsers) never makes a path public', () => notPublic(['/echo#/health', '/echo#', '/echo%23/health']));
  test('public paths: a query on a public path is kept and forwarded', () => isPublic('/health?x=1&y=/echo', '/health?x=1&y=/echo'));
  test('public paths: an encoded ? or # inside the path is never public', () => notPublic(['/health%3Fx', '/health%23x', '/static/a%3F.js']));
});

describe('public paths: case and encoding', () => {
  test('public paths: matching is case-sensitive', () => notPublic(['/HEALTH', '/Health', '/Static/app.js', '/STATIC/app.js', '/LOGIN']));
  test('public paths: harmless escapes of letters are public, forwarded as sent', async () => {
    await isPublic('/%68ealth');
    await isPublic('/static/%61pp.js');
  });
  test('public paths: double encoding and invalid escapes are never public', () => notPublic(['/%2568ealth', '/static/%252e%252e/echo', '/static/%zz', '/static/%', '/health%']));
  test('public paths: control characters, encoded NUL and overlong UTF-8 are never public', () => notPublic(['/health%00', '/health%0A', '/health%0d%0a', '/static/%C0%AE%C0%AE/echo', '/static/%C0%AF']));
  test('public paths: prefix patterns cover everything below them', async () => {
    for (const path of ['/static/app.js', '/static/css/site.css?v=3', '/static/%61pp.js', '/static/']) {
      const res = await request(gateway.url, 'GET', path);
      assert.equal(res.status, 200, path);
    }
  });
});
