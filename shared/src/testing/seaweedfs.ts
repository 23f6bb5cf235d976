import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A real S3-compatible server of the test's own (SeaweedFS `weed mini`), with credentials. */
export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
/** Each service of `weed mini` also listens on its port + 10000 (gRPC). */
const GRPC_OFFSET = 10_000;

/** The `weed` binary: built from its Go module once, then found in the cache (scripts/ci/seaweedfs.sh). */
function weedBinary(): string {
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts/ci/seaweedfs.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').at(-1) as string;
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** `n` ports below 55536 whose gRPC twins (+10000) are free too. */
async function portPairs(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (ports.some((p) => Math.abs(p - port) < 2)) continue;
    if ((await canListen(port)) && (await canListen(port + GRPC_OFFSET))) ports.push(port);
  }
  return ports;
}

/** Starts `weed mini` (master, volume, filer and S3 in one process) on free ports, data in a temporary folder; resolves once S3 answers. */
export async function startS3Server(): Promise<S3Server> {
  const weed = weedBinary();
  const dir = await mkdtemp(path.join(tmpdir(), 'chat-s3-'));
  const [master, volume, filer, s3, admin] = await portPairs(5);
  const accessKeyId = `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const child = spawn(
    weed,
    [
      'mini',
      `-dir=${dir}`,
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-master.port=${master}`,
      `-volume.port=${volume}`,
      `-filer.port=${filer}`,
      `-s3.port=${s3}`,
      `-admin.port=${admin}`,
      '-admin.port.legacy=0',
      '-admin.ui=false',
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      '-webdav=false',
    ],
    // The credentials of its one user: requests must be signed with them.
    { env: { ...process.env, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${s3}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`weed mini exited (${child.exitCode}):\n${log}`);
    // S3 answers once the filer behind it is up: an unsigned request gets an S3 error document.
    const status = await fetch(`${endpoint}/`).then(
      (res) => res.status,
      () => 0,
    );
    if (status > 0 && status < 500) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`weed mini did not answer on ${endpoint} within 60 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, stop };
}
