// (d) The stack express-session users run today, as a gateway in front of the same origin:
// Express with express-session and connect-redis against a real Redis server, checking the same
// signed cookie (same name, secret and id) and forwarding authenticated requests with the user header.
import http from 'node:http';
import express from 'express';
import session from 'express-session';
import RedisStore from 'connect-redis';
import { createClient } from 'redis';

export async function startExpressStack({ redisUrl, originUrl, secret, cookieName }) {
  const client = createClient({ url: redisUrl });
  await client.connect();
  const store = new RedisStore({ client, prefix: 'sess:' });
  const app = express();
  app.disable('x-powered-by');
  app.use(session({ store, secret, name: cookieName, resave: false, saveUninitialized: false, rolling: false }));
  const origin = new URL(originUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  app.use((req, res) => {
    if (!req.session.user) return res.status(401).json({ error: 'missing_session' });
    const headers = { ...req.headers, 'x-sessiongate-user': req.session.user };
    delete headers['x-sessiongate-assertion'];
    const upstream = http.request({ host: origin.hostname, port: origin.port, path: req.originalUrl, method: req.method, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.status(502).end());
    req.pipe(upstream);
  });
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  /** Stores a session for `id` as express-session itself does (through the store). */
  const seed = (id, user) => new Promise((resolve, reject) => {
    const cookie = { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000), httpOnly: true, path: '/' };
    store.set(id, { cookie, user }, (error) => (error ? reject(error) : resolve()));
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seed,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      // Responses cut off by the close still run express-session's touch: let them finish.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await client.quit();
    },
  };
}
