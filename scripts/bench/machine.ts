import { execFile } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { ADMIN_URL, REDIS_URL } from './cluster.ts';
import { findNginx } from '../cluster/preflight.ts';

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
  nginx: string;
  fileLimit: string;
  loadAverage: number[];
}

async function osName(): Promise<string> {
  try {
    const text = await readFile('/etc/os-release', 'utf8');
    return `${/^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? osType()} (kernel ${release()})`;
  } catch {
    return `${osType()} ${release()}`;
  }
}

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('show server_version')).rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

async function redisVersion(): Promise<string> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}

async function nginxVersion(): Promise<string> {
  const { stderr } = await promisify(execFile)(await findNginx(process.env.NGINX_BIN), ['-v']);
  return stderr.trim().replace(/^nginx version: /, '');
}

export async function describeMachine(): Promise<Machine> {
  const { stdout: limit } = await promisify(execFile)('/bin/sh', ['-c', 'ulimit -n']);
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: await osName(),
    node: process.version,
    postgres: await postgresVersion(),
    redis: await redisVersion(),
    nginx: await nginxVersion(),
    fileLimit: limit.trim(),
    loadAverage: loadavg(),
  };
}
