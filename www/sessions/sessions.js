// The "your sessions" page: lists the signed-in user's sessions from the gateway's JSON API and
// signs out other sessions. Served by the gateway under GATEWAY_PATH; every URL is derived from
// this page's own path, so it works under any GATEWAY_PATH. Text only ever goes in through
// textContent.
'use strict';

const base = location.pathname.replace(/\/sessions\/?$/, '');
const api = `${base}/api/sessions`;
const list = document.getElementById('sessions');
const summary = document.getElementById('summary');
const status = document.getElementById('status');
const revokeOthers = document.getElementById('revoke-others');
const signOut = document.getElementById('sign-out');

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function ago(ms) {
  const seconds = Math.round((ms - Date.now()) / 1000);
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [Infinity, 'week']];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return dateTime.format(ms);
}

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle('error', isError);
}

async function call(method, url) {
  const response = await fetch(url, { method, credentials: 'same-origin', headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.message || `The gateway answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function row(session) {
  const item = element('li');
  item.dataset.session = session.id;
  const about = element('div');
  const device = element('div', 'device', session.device);
  if (session.current) device.append(element('span', 'badge', 'This device'));
  about.append(device);
  about.append(element('div', 'when', `Signed in ${dateTime.format(session.created)}`));
  about.append(element('div', 'when', session.current ? 'Active now' : `Last active ${ago(session.last_seen)}`));
  item.append(about);
  if (!session.current) {
    const button = element('button', 'danger', 'Sign out');
    button.type = 'button';
    button.setAttribute('aria-label', `Sign out ${session.device}`);
    button.addEventListener('click', () => act(button, 'DELETE', `${api}/${encodeURIComponent(session.id)}`, () => `Signed out ${session.device}.`));
    item.append(button);
  }
  return item;
}

async function load() {
  try {
    const { user, sessions } = await call('GET', api);
    const others = sessions.filter((s) => !s.current).length;
    summary.textContent = `Signed in as ${user}: ${sessions.length} active ${sessions.length === 1 ? 'session' : 'sessions'}.`;
    list.replaceChildren(...sessions.map(row));
    revokeOthers.hidden = others === 0;
    signOut.hidden = false;
  } catch (error) {
    list.replaceChildren();
    revokeOthers.hidden = true;
    signOut.hidden = true;
    if (error.status === 401) {
      summary.textContent = 'You are not signed in. Sign in to the app first.';
      say('');
    } else {
      summary.textContent = 'Your sessions could not be loaded.';
      say(error.message, true);
    }
  }
}

/** Runs one sign-out call, then reloads the list; `done(result)` says what happened. */
async function act(button, method, url, done) {
  button.disabled = true;
  try {
    say(done(await call(method, url)));
    await load();
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

revokeOthers.addEventListener('click', () => act(revokeOthers, 'POST', `${api}/revoke-others`,
  ({ revoked }) => `Signed out ${revoked} other ${revoked === 1 ? 'session' : 'sessions'}.`));
signOut.addEventListener('click', async () => {
  signOut.disabled = true;
  try {
    await call('POST', `${base}/logout`);
    location.assign('/');
  } catch (error) {
    say(error.message, true);
    signOut.disabled = false;
  }
});

load();
