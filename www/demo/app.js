// Shows what the demo origin received for this browser's session (GET /whoami through the
// gateway): the user header and the assertion claims, which the origin verified.
'use strict';

const status = document.getElementById('status');
const claimNames = {
  iss: 'Issuer',
  sub: 'User (sub)',
  sid: 'Session handle (sid)',
  iat: 'Issued',
  exp: 'Expires',
  data: 'Session data',
};

function fact(list, name, value) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

async function show() {
  const response = await fetch('/whoami', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    status.textContent = body.message || `The gateway refused the request (${response.status}).`;
    status.classList.add('error');
    return;
  }
  document.getElementById('user').textContent = body.user ?? '(none)';
  document.getElementById('greeting').textContent = `Hello, ${body.user}`;
  const claims = document.getElementById('claims');
  if (!body.assertion) {
    status.textContent = `The origin could not verify the assertion: ${body.assertionError}.`;
    status.classList.add('error');
    return;
  }
  document.getElementById('verified').hidden = false;
  for (const [key, label] of Object.entries(claimNames)) {
    const value = body.assertion[key];
    if (value === undefined) continue;
    const text = key === 'iat' || key === 'exp' ? new Date(value * 1000).toLocaleString()
      : typeof value === 'object' ? JSON.stringify(value) : String(value);
    fact(claims, label, text);
  }
}

document.getElementById('sign-out').addEventListener('click', async (event) => {
  event.target.disabled = true;
  const response = await fetch('/.sessiongate/logout', { method: 'POST', credentials: 'same-origin' });
  if (response.ok) {
    location.assign('/');
  } else {
    status.textContent = `Sign-out failed (${response.status}).`;
    status.classList.add('error');
    event.target.disabled = false;
  }
});

show().catch((error) => {
  status.textContent = error.message;
  status.classList.add('error');
});
