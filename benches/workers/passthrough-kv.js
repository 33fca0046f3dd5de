// (a2) A reference floor, not a gateway: the pass-through (a) plus the two KV reads that every
// authenticated request of (b) and (c) makes (the session's record and its activity, together).
// It checks nothing; the gap between (a) and (a2) is what two reads of local KV cost.
const ID = 'benchSessionId0123456789abcdefghijklmnopqrst';

export default {
  async fetch(request, env) {
    await Promise.all([env.SESSIONS.get(`sess:${ID}`), env.SESSIONS.get(`seen:${ID}`)]);
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
