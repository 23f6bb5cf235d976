import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// CI runs scripts/ci/compose-check.sh (.ci/run): the compose files loaded by
// compose-go exactly as the docs tell users to run them. Here it runs too where Go
// is installed, with the same caches outside the clone (the first build takes a
// minute; later ones a second), and shows that the check catches a missing export.

const root = path.resolve(import.meta.dirname, '..');
const script = path.join(root, 'scripts/ci/compose-check.sh');
const goOnPath = await promisify(execFile)('go', ['version']).then(
  () => true,
  () => false,
);

const run = (...docs: string[]) =>
  promisify(execFile)('bash', [script, ...docs], { cwd: root }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      stdout: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  );

describe.skipIf(!goOnPath)('scripts/ci/compose-check.sh (Go on PATH)', { timeout: 300_000 }, () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads every documented docker compose command', async () => {
    const { code, stdout } = await run();
    expect(stdout).toMatch(/all \d+ documented compose commands load/);
    expect(stdout).toContain('ok: 12 services');
    expect(stdout).toContain('ok: 18 services');
    expect(code).toBe(0);
  });

  it('fails when the docs do not export a variable the compose file requires', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'compose-check-'));
    const doc = path.join(dir, 'stale.md');
    await writeFile(
      doc,
      [
        '```sh',
        'export JWT_SECRET=$(openssl rand -hex 32) POSTGRES_PASSWORD=$(openssl rand -hex 32) \\',
        '       POSTGRES_APP_PASSWORD=$(openssl rand -hex 32) REDIS_PASSWORD=$(openssl rand -hex 32)',
        'docker compose up --build',
        '```',
        '',
      ].join('\n'),
    );
    const { code, stdout } = await run(doc);
    expect(stdout).toContain('required variable GRAFANA_ADMIN_PASSWORD is missing a value');
    expect(code).toBe(1);
  });
});
