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
const showMore = document.getElementById('show-more');
/** Where the next page of the listing starts (null: everything is shown). */
let nextOffset = null;

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
    const url = `${api}/${encodeURIComponent(session.id)}`;
    button.addEventListener('click', () => act(button, () => call('DELETE', url), () => `Signed out ${session.device}.`));
    item.append(button);
  }
  return item;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Shows the first page of sessions; "Show more" appends the next ones. */
async function load() {
  try {
    const { user, sessions, total, next } = await call('GET', api);
    list.replaceChildren(...sessions.map(row));
    nextOffset = next ?? null;
    summarize(user, total);
    revokeOthers.hidden = total <= 1;
    signOut.hidden = false;
  } catch (error) {
    list.replaceChildren();
    nextOffset = null;
    showMore.hidden = true;
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

function summarize(user, total) {
  const shown = list.children.length;
  const showing = shown < total ? ` (showing ${shown} of ${total})` : '';
  summary.textContent = `Signed in as ${user}: ${plural(total, 'active session')}${showing}.`;
  showMore.hidden = nextOffset === null;
}

showMore.addEventListener('click', async () => {
  showMore.disabled = true;
  try {
    const { user, sessions, total, next } = await call('GET', `${api}?offset=${nextOffset}`);
    list.append(...sessions.map(row));
    nextOffset = next ?? null;
    summarize(user, total);
  } catch (error) {
    say(error.message, true);
  } finally {
    showMore.disabled = false;
  }
});

/** Runs a sign-out (`run()`), then reloads the list; `done(result)` says what happened. */
async function act(button, run, done) {
  button.disabled = true;
  try {
    say(done(await run()));
    await load();
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

// One call ends as many sessions as one request may; with more, the answer says how many remain
// and the page calls again until none does.
async function revokeAllOthers() {
  let revoked = 0;
  for (;;) {
    const answer = await call('POST', `${api}/revoke-others`);
    revoked += answer.revoked;
    if (!answer.remaining) return { revoked };
    say(`Signed out ${revoked} other sessions so far…`);
  }
}

revokeOthers.addEventListener('click', () => act(revokeOthers, revokeAllOthers,
  ({ revoked }) => `Signed out ${plural(revoked, 'other session')}.`));
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
