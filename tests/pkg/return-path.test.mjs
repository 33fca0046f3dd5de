// `sessiongate/express`'s return-path helpers against the table the gateway's Rust sanitizer is
// tested on (tests/fixtures/return-paths.json, read by `src/gate/browser.rs`'s tests too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { returnTo, safeReturnPath } from '../../pkg/src/express.js';
import { MAX_RETURN_PATH_LENGTH } from '../../pkg/src/return-path.js';

const TABLE = JSON.parse(readFileSync(new URL('../fixtures/return-paths.json', import.meta.url), 'utf8'));

test('safeReturnPath follows the table shared with the gateway', () => {
  assert.ok(TABLE.length > 20);
  for (const { input, repeat, expected, why } of TABLE) {
    const value = repeat ? repeat.unit.repeat(repeat.times) : input;
    assert.equal(safeReturnPath(value), expected, why);
  }
  assert.equal(MAX_RETURN_PATH_LENGTH, 2048);
});

test('safeReturnPath refuses what is not a string', () => {
  for (const value of [undefined, null, 42, ['/a'], { toString: () => '/a' }]) {
    assert.equal(safeReturnPath(value), '/');
  }
});

test('returnTo reads Express query values or the raw URL, and refuses repeated or odd values', () => {
  assert.equal(returnTo({ query: { return_to: '/orders/7?tab=items' } }), '/orders/7?tab=items');
  assert.equal(returnTo({ query: { return_to: '//evil.example' } }), '/');
  assert.equal(returnTo({ query: { return_to: ['/a', '/b'] } }), '/');
  assert.equal(returnTo({ query: { return_to: { x: '/a' } } }), '/');
  assert.equal(returnTo({ query: {} }), '/');
  assert.equal(returnTo({ query: {} }, { fallback: '/app' }), '/app');
  assert.equal(returnTo({ query: {} }, { fallback: '//evil' }), '/', 'the fallback is made safe too');
  assert.equal(returnTo({ query: { next: '/x' } }, { param: 'next' }), '/x');
  // Node's own request (no req.query): the gateway's encoding, decoded once.
  assert.equal(returnTo({ url: '/login?return_to=/orders/7%3Ftab%3Ditems' }), '/orders/7?tab=items');
  assert.equal(returnTo({ url: '/login?return_to=%2F%2Fevil.example' }), '/');
  assert.equal(returnTo({ url: '/login?return_to=/%252F%252Fevil' }), '/');
  assert.equal(returnTo({ url: '/login?return_to=/a&return_to=/b' }), '/');
  assert.equal(returnTo({ url: '/login' }), '/');
  assert.equal(returnTo({ originalUrl: '/base/login?return_to=/x', url: '/login' }), '/x');
  assert.equal(returnTo(undefined), '/');
});
