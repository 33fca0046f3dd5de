// Adversarial catalogue, class "forwarding": what a client can make the origin see, through the
// real Worker. Identity and control headers are stripped in every case and separator variant, on
// public routes too; hop-by-hop headers (and those named in Connection) are dropped; routing and
// forwarding headers never change an authentication decision; responses stream.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import {
  COOKIE, UA, errorCode, loginViaControl, rawRequest, request, originAndGateway,
} from './helpers.mjs';

const { origin, gateway } = await originAndGateway({
  vars: { PUBLIC_PATHS: '/health,/login,/static/*,/control', USER_HEADER: 'X-Auth-Principal' },
});

const lastSeen = () => origin.requests.at(-1);
const fold = (name) => name.toLowerCase().replaceAll('_', '-');

// Every identity and control header of the README, as written there, plus the configured
// USER_HEADER and the gateway's whole namespace.
const SPOOFED = [
  'X-Auth-Principal', 'X-Sessiongate-User', 'X-Sessiongate-Assertion', 'X-Sessiongate-Anything',
  'Sessiongate-Login', 'Sessiongate-Logout', 'Sessiongate-Whatever',
  'X-User', 'X-User-Id', 'X-UserId', 'X-Username', 'X-User-Email', 'X-Email', 'X-Remote-User', 'Remote-User',
  'X-Auth-User', 'X-Authenticated-User', 'X-Authenticated-Userid', 'X-Forwarded-User', 'X-Forwarded-Email',
  'X-Forwarded-Preferred-Username', 'X-Forwarded-Groups', 'X-Auth-Request-User', 'X-Auth-Request-Email',
  'X-Auth-Request-Preferred-Username', 'X-Auth-Request-Groups', 'X-Auth-Request-Access-Token', 'X-WebAuth-User',
  'X-MS-Client-Principal', 'X-MS-Client-Principal-Name', 'X-MS-Client-Principal-Id',
  'X-Goog-Authenticated-User-Email', 'X-Goog-Authenticated-User-Id', 'X-Amzn-OIDC-Identity', 'X-Amzn-OIDC-Data',
  'X-Amzn-OIDC-AccessToken', 'X-JWT-Assertion',
  'X-Original-URL', 'X-Rewrite-URL', 'X-Override-URL', 'X-Original-URI', 'X-HTTP-Method-Override', 'X-HTTP-Method',
  'X-Method-Override',
];
const VARIANTS = {
  'as written': (n) => n,
  lowercase: (n) => n.toLowerCase(),
  uppercase: (n) => n.toUpperCase(),
  'underscores for dashes': (n) => n.replaceAll('-', '_'),
  'mixed case and separators': (n) => [...n].map((c, i) => (c === '-' && i % 2 ? '_' : i % 2 ? c.toLowerCase() : c.toUpperCase())).join(''),
};

/** The origin saw none of the spoofed names (after folding) and no spoofed value. */
function assertNoneReached(seen, variant) {
  const names = Object.keys(seen.headers).map(fold);
  for (const name of SPOOFED) {
    // The gateway sets its own user and assertion headers itself: checked by value below.
    if (name === 'X-Auth-Principal' || name === 'X-Sessiongate-Assertion') continue;
    assert.ok(!names.includes(fold(name)), `${variant}: ${name} reached the origin`);
  }
  assert.ok(!JSON.stringify(seen.headers).includes('mallory'), `${variant}: ${JSON.stringify(seen.headers)}`);
}

describe('forwarding: spoofed identity and control headers', () => {
  for (const [variant, shape] of Object.entries(VARIANTS)) {
    const spoofed = SPOOFED.map((name) => [shape(name), name.includes('URL') || name.includes('URI') ? '/mallory' : 'mallory']);
    test(`forwarding: spoofed headers, ${variant}, on a public route`, async () => {
      const res = await request(gateway.url, 'GET', '/health', { headers: spoofed });
      assert.equal(res.status, 200);
      assertNoneReached(lastSeen(), variant);
      assert.equal(lastSeen().headers['x-auth-principal'], undefined, 'no identity on a public route');
      assert.equal(lastSeen().url, '/health');
      assert.equal(lastSeen().method, 'GET');
    });
    test(`forwarding: spoofed headers, ${variant}, on an authenticated route`, async () => {
      const cookie = await loginViaControl(gateway.url, 'bob');
      const res = await request(gateway.url, 'GET', '/echo', {
        headers: [['cookie', cookie], ['user-agent', UA], ...spoofed],
      });
      assert.equal(res.status, 200, res.body);
      assertNoneReached(lastSeen(), variant);
      assert.equal(lastSeen().headers['x-auth-principal'], 'bob', 'the configured user header carries the real user');
      assert.equal(lastSeen().headers['x-sessiongate-assertion'].split('.').length, 3);
    });
  }
  test('forwarding: spoofed headers on a refused request never reach the origin at all', async () => {
    const calls = origin.requests.length;
    const res = await request(gateway.url, 'GET', '/echo', { headers: [['X-Sessiongate-User', 'mallory'], ['X-User', 'mallory']] });
    assert.equal(errorCode(res), 'missing_session');
    assert.equal(origin.requests.length, calls);
  });
  test('forwarding: the origin\'s control headers never reach the client, in any case', async () => {
    const res = await request(gateway.url, 'GET', '/health', {});
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.headers).filter((h) => fold(h).includes('sessiongate')), []);
  });
});

describe('forwarding: hop-by-hop headers', () => {
  const HOP = [
    ['Keep-Alive', 'timeout=5'], ['Proxy-Connection', 'keep-alive'], ['Proxy-Authorization', 'Basic bWFsbG9yeTp4'],
    // `Upgrade: websocket` on a GET is a WebSocket handshake (websocket.test.mjs); any other is stripped.
    ['Proxy-Authenticate', 'Basic'], ['TE', 'trailers'], ['Upgrade', 'h2c'],
  ];
  test('forwarding: the standard hop-by-hop headers are dropped', async () => {
    const res = await request(gateway.url, 'GET', '/health', { headers: [...HOP, ['X-Kept', '1']] });
    assert.equal(res.status, 200);
    for (const [name] of HOP) assert.equal(lastSeen().headers[name.toLowerCase()], undefined, name);
    assert.equal(lastSeen().headers['x-kept'], '1');
    // Node's client refuses a Trailer header without a chunked body: sent raw.
    const raw = await rawRequest(gateway.url, `GET /health HTTP/1.1\r\nHost: ${new URL(gateway.url).host}\r\n`
      + 'Trailer: X-Checksum\r\nX-Kept: 2\r\nConnection: close\r\n\r\n');
    assert.equal(raw.status, 200);
    assert.equal(lastSeen().headers.trailer, undefined);
    assert.equal(lastSeen().headers['x-kept'], '2');
  });
  test('forwarding: headers named in Connection, in odd case, spacing and separators, are dropped', async () => {
    const res = await request(gateway.url, 'GET', '/health', {
      headers: [['Connection', 'keep-alive,X-Hop-A ,  x_hop_b,,X-HOP-C'], ['X-Hop-A', '1'], ['X-Hop-B', '1'],
        ['x-hop-c', '1'], ['X-Kept', '1']],
    });
    assert.equal(res.status, 200);
    for (const name of ['x-hop-a', 'x-hop-b', 'x-hop-c']) assert.equal(lastSeen().headers[name], undefined, name);
    assert.equal(lastSeen().headers['x-kept'], '1');
  });
  test('forwarding: two Connection lines: headers named in either are dropped', async () => {
    const res = await request(gateway.url, 'GET', '/health', {
      headers: [['Connection', 'X-Hop-A'], ['Connection', 'X-Hop-B'], ['X-Hop-A', '1'], ['X-Hop-B', '1'], ['X-Kept', '1']],
    });
    assert.equal(res.status, 200);
    assert.equal(lastSeen().headers['x-hop-a'], undefined);
    assert.equal(lastSeen().headers['x-hop-b'], undefined);
    assert.equal(lastSeen().headers['x-kept'], '1');
  });
  test('forwarding: Connection naming the user header cannot remove the gateway\'s own identity header', async () => {
    const cookie = await loginViaControl(gateway.url, 'carol');
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: [['cookie', cookie], ['user-agent', UA], ['Connection', 'X-Auth-Principal, X-Sessiongate-Assertion']],
    });
    assert.equal(res.status, 200);
    assert.equal(lastSeen().headers['x-auth-principal'], 'carol');
    assert.ok(lastSeen().headers['x-sessiongate-assertion']);
  });
  test('forwarding: Connection naming Cookie removes the cookie before the decision: fails closed', async () => {
    const cookie = await loginViaControl(gateway.url, 'dave');
    const calls = origin.requests.length;
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: [['cookie', cookie], ['user-agent', UA], ['Connection', 'cookie']],
    });
    assert.equal(errorCode(res), 'missing_session');
    assert.equal(origin.requests.length, calls);
    assert.equal((await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 200);
  });
});

describe('forwarding: routing and forwarding headers never change a decision', () => {
  const ROUTING = [
    ['X-Original-URL', '/health'], ['X-Rewrite-URL', '/health'], ['X-Override-URL', '/health'], ['X-Original-URI', '/health'],
    ['X-Forwarded-Uri', '/health'], ['X-Forwarded-Path', '/health'], ['X-Forwarded-Prefix', '/health'],
    ['X-Envoy-Original-Path', '/health'], ['X-Forwarded-Host', 'localhost'], ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-For', '127.0.0.1'], ['X-Real-IP', '127.0.0.1'], ['Forwarded', 'for=127.0.0.1;host=localhost;proto=https'],
    ['X-HTTP-Method-Override', 'OPTIONS'], ['X-Method-Override', 'OPTIONS'], ['X-HTTP-Method', 'OPTIONS'],
  ];
  for (const [name, value] of ROUTING) {
    test(`forwarding: ${name} on a protected path does not make it public`, async () => {
      const calls = origin.requests.length;
      const res = await request(gateway.url, 'GET', '/echo', {
        headers: [[name, value], ['Origin', 'https://app.example'], ['Access-Control-Request-Method', 'GET']],
      });
      assert.equal(res.status, 401, res.body);
      assert.equal(errorCode(res), 'missing_session');
      assert.equal(origin.requests.length, calls);
    });
  }
  test('forwarding: on a public path, re-routing headers are stripped; other X-Forwarded-* pass through', async () => {
    const res = await request(gateway.url, 'GET', '/health', {
      headers: [['X-Original-URL', '/admin'], ['X-Rewrite-URL', '/admin'], ['X-HTTP-Method-Override', 'DELETE'],
        ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Prefix', '/app']],
    });
    assert.equal(res.status, 200);
    const seen = lastSeen().headers;
    assert.equal(seen['x-original-url'], undefined);
    assert.equal(seen['x-rewrite-url'], undefined);
    assert.equal(seen['x-http-method-override'], undefined);
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-prefix'], '/app');
  });
  test('forwarding: a spoofed Host does not change the decision', async () => {
    const calls = origin.requests.length;
    const res = await request(gateway.url, 'GET', '/echo', { headers: [['Host', 'localhost']] });
    assert.equal(errorCode(res), 'missing_session');
    assert.equal(origin.requests.length, calls);
  });
  test('forwarding: an absolute-form or asterisk request target never reaches the origin', async () => {
    // workerd itself refuses these targets (locally with a 500 before the Worker runs); what
    // matters here is that nothing is forwarded and nothing passes.
    const { host } = new URL(gateway.url);
    for (const target of [`http://${host}/echo`, 'http://evil.example/health', '*', 'echo']) {
      const calls = origin.requests.length;
      const res = await rawRequest(gateway.url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status >= 400, `${target}: ${res.status}`);
      assert.equal(origin.requests.length, calls, target);
    }
  });
  test('forwarding: a spoofed session cookie on a public path is neither checked nor forwarded as identity', async () => {
    const res = await request(gateway.url, 'GET', '/static/x', { headers: { cookie: `${COOKIE}=s%3Abad.sig; a=1` } });
    assert.equal(res.status, 200);
    assert.equal(lastSeen().headers['x-auth-principal'], undefined);
    assert.equal(lastSeen().headers['x-sessiongate-assertion'], undefined);
  });
});

describe('forwarding: preflight and framing', () => {
  const host = () => new URL(gateway.url).host;
  test('forwarding: a CORS preflight carrying a session cookie and spoofed headers forwards no identity and no session cookie', async () => {
    const cookie = await loginViaControl(gateway.url, 'ivy');
    const res = await request(gateway.url, 'OPTIONS', '/echo', {
      headers: [['Origin', 'https://app.example'], ['Access-Control-Request-Method', 'POST'],
        ['cookie', `${cookie}; a=1`], ['user-agent', UA], ['X-Sessiongate-User', 'mallory'], ['X-Auth-Principal', 'mallory']],
    });
    assert.equal(res.status, 200);
    const seen = lastSeen();
    assert.equal(seen.method, 'OPTIONS');
    assert.equal(seen.headers['x-auth-principal'], undefined);
    assert.equal(seen.headers['x-sessiongate-assertion'], undefined);
    assert.equal(seen.headers.cookie, 'a=1', 'the session cookie stays at the gateway');
    assert.ok(!JSON.stringify(seen.headers).includes('mallory'));
  });
  test('forwarding: a request with both Content-Length and Transfer-Encoding smuggles nothing to the origin', async () => {
    const before = origin.requests.length;
    const smuggled = `GET /echo HTTP/1.1\r\nHost: ${host()}\r\nX-Sessiongate-User: mallory\r\n\r\n`;
    const res = await rawRequest(gateway.url, `POST /health HTTP/1.1\r\nHost: ${host()}\r\n`
      + `Content-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n${smuggled}`);
    assert.ok([200, 400].includes(res.status), res.raw.slice(0, 100));
    const reached = origin.requests.slice(before);
    assert.ok(reached.length <= 1, JSON.stringify(reached.map((r) => r.url)));
    assert.ok(reached.every((r) => r.url === '/health' && !JSON.stringify(r.headers).includes('mallory')));
  });
  test('forwarding: pipelined requests are decided one by one (a public request does not open the next)', async () => {
    const before = origin.requests.length;
    const res = await rawRequest(gateway.url, `GET /health HTTP/1.1\r\nHost: ${host()}\r\n\r\n`
      + `GET /echo HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 200);
    assert.match(res.raw, /HTTP\/1\.1 401[^]*missing_session/, 'the second answer is a refusal');
    assert.deepEqual(origin.requests.slice(before).map((r) => r.url), ['/health']);
  });
});

// What the origin receives is the client's headers after the gate's policy: every line and
// spelling of a dropped header goes, repeated ordinary headers and the other cookies arrive as sent.
describe('forwarding: the origin gets the client\'s headers, changed only where the gate says', () => {
  test('forwarding: repeated lines of a spoofed header, in several spellings, are all dropped; the rest arrives as sent', async () => {
    const cookie = await loginViaControl(gateway.url, 'trent');
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: [
        ['cookie', `a=1; ${cookie}; b=2`], ['user-agent', UA],
        ['X-User', 'mallory'], ['x_user', 'mallory'], ['X-USER', 'mallory'],
        ['X-Auth-Principal', 'mallory'], ['x_auth_principal', 'mallory'],
        ['X-Kept', 'one'], ['X-Kept', 'two'], ['Accept', 'application/json'],
      ],
    });
    assert.equal(res.status, 200, res.body);
    const seen = lastSeen().headers;
    assert.equal(seen['x-auth-principal'], 'trent');
    assert.equal(seen.cookie, 'a=1; b=2', 'the session cookie is removed, the others kept in order');
    assert.equal(seen['x-kept'], 'one, two');
    assert.equal(seen.accept, 'application/json');
    assert.equal(seen['user-agent'], UA);
    assert.ok(!Object.keys(seen).map(fold).includes('x-user'));
    assert.ok(!JSON.stringify(seen).includes('mallory'), JSON.stringify(seen));
  });
  test('forwarding: a Cookie header holding only the session cookie is not forwarded at all', async () => {
    const cookie = await loginViaControl(gateway.url, 'trudy');
    const res = await request(gateway.url, 'GET', '/echo', { headers: [['cookie', cookie], ['user-agent', UA]] });
    assert.equal(res.status, 200, res.body);
    assert.equal(lastSeen().headers.cookie, undefined);
    assert.equal(lastSeen().headers['x-auth-principal'], 'trudy');
  });
});

describe('forwarding: responses', () => {
  test('forwarding: the origin\'s response streams back: the first chunk arrives before the origin has finished', async () => {
    const cookie = await loginViaControl(gateway.url, 'peggy');
    const target = new URL(gateway.url);
    const firstChunk = await new Promise((resolve, reject) => {
      const req = http.request({
        host: target.hostname, port: target.port, path: '/stream', agent: false,
        headers: { cookie, 'user-agent': UA },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
          if (text === 'first\n') {
            resolve(text);
            origin.release(); // only now may the origin finish
          }
        });
        res.on('end', () => (text === 'first\nsecond\n' ? undefined : reject(new Error(`got ${JSON.stringify(text)}`))));
      });
      req.on('error', reject);
      // If the gateway buffered the whole response, nothing would arrive until release(): fail
      // after a generous bound instead of hanging.
      setTimeout(() => reject(new Error('the first chunk was held back')), 10_000).unref();
      req.end();
    });
    assert.equal(firstChunk, 'first\n');
  });
});
