// Benchmark reference (benches/websocket.mjs): the least a Worker can do to relay a WebSocket, with
// no check at all: the origin's socket from `fetch` with `Upgrade: websocket`, a WebSocketPair
// toward the client, messages passed both ways, closes passed on.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const response = await fetch(env.ORIGIN_URL + url.pathname + url.search, { headers: { upgrade: 'websocket' } });
    const origin = response.webSocket;
    if (!origin) return new Response('no socket', { status: 502 });
    const [client, server] = Object.values(new WebSocketPair());
    origin.accept();
    server.accept();
    origin.binaryType = 'arraybuffer';
    server.binaryType = 'arraybuffer';
    origin.addEventListener('message', (event) => server.send(event.data));
    server.addEventListener('message', (event) => origin.send(event.data));
    origin.addEventListener('close', (event) => server.close(event.code === 1005 ? 1000 : event.code, event.reason));
    server.addEventListener('close', (event) => origin.close(event.code === 1005 ? 1000 : event.code, event.reason));
    return new Response(null, { status: 101, webSocket: client });
  },
};
