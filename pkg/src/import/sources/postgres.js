// PostgreSQL: connect-pg-simple's table (`sid`, `sess` json, `expire` timestamp; table and schema
// options), or any query whose columns are `id` and `expires` plus whatever the mapping reads
// (e.g. `SELECT sid AS id, sub AS user, expires_at AS expires FROM app_sessions`). Read through a
// server-side cursor in one read-only transaction: bounded memory, one consistent snapshot.
import { loadDriver } from './load.js';
import { ImportError } from '../builder.js';

function quoteIdent(name) {
  return `"${String(name).replace(/"/g, '""')}"`;
}

export async function openPostgres({ url, table = 'session', schema = null, query = null, fetchSize = 2000, label }) {
  const pg = await loadDriver('pg', 'the postgres source');
  const Client = pg.Client ?? pg.default?.Client;
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  const sql = query
    ? `SELECT * FROM (${query}) AS sessiongate_import`
    : // `expire` is a timestamp in the server's time zone (connect-pg-simple writes
      // to_timestamp(...) into it): cast back with the session's own time zone.
      `SELECT sid AS id, sess AS session, (extract(epoch FROM expire::timestamptz) * 1000)::float8 AS expires FROM ${
        schema ? `${quoteIdent(schema)}.` : ''}${quoteIdent(table)}`;
  return {
    label,
    async *batches() {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`DECLARE sessiongate_import NO SCROLL CURSOR FOR ${sql}`);
      let first = true;
      for (;;) {
        const { rows } = await client.query(`FETCH ${fetchSize} FROM sessiongate_import`);
        if (first && query && rows.length && !('id' in rows[0] && 'expires' in rows[0])) {
          throw new ImportError(`${label}: the query must return the columns "id" and "expires" (found ${Object.keys(rows[0]).join(', ')})`);
        }
        first = false;
        if (rows.length === 0) break;
        yield rows.map((row) =>
          query
            ? { id: String(row.id), session: row, storeExpires: row.expires }
            : { id: row.id, session: row.session, storeExpires: row.expires },
        );
      }
      await client.query('COMMIT');
    },
    async close() {
      await client.end();
    },
  };
}
