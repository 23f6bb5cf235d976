import http from 'node:http';
import pg from 'pg';
import { serveWorker } from '../worker.ts';

// The bare baseline of `send`: node:http and a pg Pool, one INSERT per POST, no framework.
// argv: databaseUrl poolSize

const [databaseUrl, poolSize] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(poolSize) });
await pool.query(`create table if not exists bench_bare_messages (
  id uuid primary key default gen_random_uuid(), sender_id uuid not null, content text not null, created_at timestamptz not null default now())`);

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const { content } = JSON.parse(Buffer.concat(chunks).toString()) as { content: string };
    pool.query('insert into bench_bare_messages (sender_id, content) values ($1, $2) returning *', [req.headers['x-bench-sender'], content]).then(
      (r) => {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(r.rows[0]));
      },
      (e: unknown) => {
        res.writeHead(500).end(String(e));
      },
    );
  });
});
server.listen(0, '127.0.0.1', () => serveWorker({ port: (server.address() as { port: number }).port }, () => Promise.resolve(null)));
