// (a) The floor: a Worker that only forwards every request to the origin, unchanged.
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
