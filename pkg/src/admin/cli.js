// `sessiongate sessions list|end`: the operators' session admin API of a deployed gateway
// ({GATEWAY_PATH}/admin/, see docs/operations.md) from the command line.
//
// The admin token is read from SESSIONGATE_ADMIN_TOKEN only, never from an argument (arguments
// end up in shell history and in every user's `ps`). Plain http:// is refused except to a
// loopback address: the token would cross the network in the clear.

export const USAGE = `usage:
  sessiongate sessions list --user <user> --url <gateway URL> [--offset <n>] [--json]
  sessiongate sessions end  --user <user> --session <handle> --url <gateway URL> [--json]
  sessiongate sessions end  --user <user> --all --url <gateway URL> [--json]

  --url           the gateway's address, e.g. https://app.example.com
  --gateway-path  GATEWAY_PATH of the deployment (default /.sessiongate)
  --all           ends every session of the user (repeats the call while sessions remain)

The admin token is read from SESSIONGATE_ADMIN_TOKEN (one of the deployment's ADMIN_TOKENS).
`;

/** Most calls `end --all` makes (each ends as many sessions as one request may). */
const MAX_END_ALL_CALLS = 100;

class UsageError extends Error {}

const FLAGS = new Set(['--all', '--json', '--help']);
const OPTIONS = new Set(['--user', '--session', '--url', '--offset', '--gateway-path']);

/** `args` as `{ positional, options }`; throws a UsageError on anything unknown. */
export function parseArgs(args) {
  const positional = [];
  const options = {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    const [name, inline] = arg.startsWith('--') ? arg.split(/=(.*)/s, 2) : [arg];
    if (name === '--token' || name === '--admin-token') {
      throw new UsageError('the admin token is read from SESSIONGATE_ADMIN_TOKEN only, never from an argument');
    }
    if (FLAGS.has(name)) {
      options[name.slice(2)] = true;
    } else if (OPTIONS.has(name)) {
      const value = inline ?? args[(i += 1)];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
      options[name.slice(2).replace('-p', 'P')] = value;
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  return { positional, options };
}

/** Whether `hostname` (as URL.hostname gives it) is a loopback address. */
export function isLoopback(hostname) {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The admin API's base URL; refuses plain http:// except to loopback. */
export function adminBase(url, gatewayPath = '/.sessiongate') {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL: ${url}`);
  }
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    throw new UsageError(`refusing plain http:// to ${parsed.hostname}: the admin token would cross the network in the clear (use https://)`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UsageError(`--url must be https:// (or http:// to a loopback address), got ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new UsageError('--url must not carry credentials, a query or a fragment');
  }
  const path = `/${gatewayPath.replace(/^\/+|\/+$/g, '')}`;
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}${path}/admin`;
}

async function call(io, token, method, url) {
  const response = await io.fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    redirect: 'error',
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const why = body?.error ? `${body.error}: ${body.message}` : text.slice(0, 200);
    const error = new Error(`${method} ${new URL(url).pathname} answered ${response.status} (${why})`);
    error.status = response.status;
    throw error;
  }
  if (body === undefined) throw new Error(`${method} ${new URL(url).pathname} answered no JSON`);
  return body;
}

const time = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** Runs `sessiongate sessions …`; resolves to the exit code (0 done, 1 failed, 2 usage). */
export async function main(args, io) {
  let parsed;
  try {
    parsed = parseArgs(args);
    if (parsed.options.help) {
      io.stdout(USAGE);
      return 0;
    }
    const { positional, options } = parsed;
    const [action, ...rest] = positional;
    if (!['list', 'end'].includes(action) || rest.length > 0) throw new UsageError('expected `sessions list` or `sessions end`');
    if (!options.user) throw new UsageError('--user is required');
    if (!options.url) throw new UsageError('--url is required');
    if (action === 'end' && Boolean(options.session) === Boolean(options.all)) {
      throw new UsageError('`sessions end` needs either --session <handle> or --all');
    }
    if (action === 'list' && (options.session || options.all)) throw new UsageError('--session and --all are for `sessions end`');
    if (options.offset !== undefined && !/^\d+$/.test(options.offset)) throw new UsageError('--offset must be a whole number');
    const token = io.env.SESSIONGATE_ADMIN_TOKEN;
    if (!token) throw new UsageError('set SESSIONGATE_ADMIN_TOKEN to one of the deployment\'s ADMIN_TOKENS');
    const base = adminBase(options.url, options.gatewayPath);
    const user = new URLSearchParams({ user: options.user });
    if (action === 'list') {
      if (options.offset) user.set('offset', options.offset);
      const page = await call(io, token, 'GET', `${base}/sessions?${user}`);
      if (options.json) {
        io.stdout(`${JSON.stringify(page, null, 2)}\n`);
      } else {
        io.stdout(`${page.total} live session(s) of ${page.user}${page.complete ? '' : ' (not every session could be read)'}\n`);
        for (const s of page.sessions) {
          io.stdout(`${s.handle}  ${s.device}  created ${time(s.created)}  last seen ${time(s.last_seen)}\n`);
        }
        if (page.next !== null && page.next !== undefined) io.stdout(`more: --offset ${page.next}\n`);
      }
      return 0;
    }
    if (options.session) {
      const out = await call(io, token, 'DELETE', `${base}/sessions/${encodeURIComponent(options.session)}?${user}`);
      io.stdout(options.json ? `${JSON.stringify(out)}\n` : `ended session ${options.session} of ${options.user}\n`);
      return 0;
    }
    let ended = 0;
    for (let calls = 0; calls < MAX_END_ALL_CALLS; calls += 1) {
      const out = await call(io, token, 'POST', `${base}/sessions/end-all?${user}`);
      ended += out.ended;
      if (out.remaining === 0) {
        io.stdout(options.json ? `${JSON.stringify({ ok: true, ended, remaining: 0 })}\n` : `ended ${ended} session(s) of ${options.user}\n`);
        return 0;
      }
    }
    io.stderr(`ended ${ended} session(s) of ${options.user}; some remain: run the command again\n`);
    return 1;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`sessiongate sessions: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    io.stderr(`sessiongate sessions: ${error.message}\n`);
    return 1;
  }
}
