// Signs in with JSON so a wrong password can be shown in place; without JavaScript the form posts
// normally and the demo origin answers with a redirect. The page's query (the gateway's
// `return_to`) goes along: the origin answers where to go next, checked there.
'use strict';

const form = document.getElementById('login');
const status = document.getElementById('status');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = form.querySelector('button');
  button.disabled = true;
  status.classList.remove('error');
  status.textContent = 'Signing in…';
  try {
    const response = await fetch(`/login${location.search}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) {
      const body = await response.json().catch(() => ({}));
      location.assign(typeof body.next === 'string' && body.next.startsWith('/') ? body.next : '/app');
      return;
    }
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || body.message || `Sign-in failed (${response.status}).`);
  } catch (error) {
    status.textContent = error.message;
    status.classList.add('error');
    button.disabled = false;
  }
});
