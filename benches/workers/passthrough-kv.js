// (a2) A reference floor, not a gateway: the pass-through (a) plus the KV read that every
// authenticated request of (b) and (c) makes (the session's record and its activity, in one bulk
// read). It checks nothing; the gap between (a) and (a2) is what that read of local KV costs.
const ID = 'benchSessionId0123456789abcdefghijklmnopqrst';

export default {
  async fetch(request, env) {
    await env.SESSIONS.get([`sess:${ID}`, `seen:${ID}`]);
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
