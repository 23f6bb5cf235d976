import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

type Verify = (secret: string, headers: Record<string, string | undefined>, body: string, toleranceSeconds?: number, now?: number) => boolean;

/**
 * The verification code docs/webhooks.md gives receivers, exactly as written
 * there (between its `verify-webhook` markers): the tests check deliveries
 * with it, so the documentation cannot drift from what the worker signs.
 */
export async function documentedVerifier(): Promise<Verify> {
  const doc = await readFile(path.resolve(import.meta.dirname, '../../../docs/webhooks.md'), 'utf8');
  const section = /<!-- verify-webhook: start -->([\s\S]*?)<!-- verify-webhook: end -->/.exec(doc)?.[1] ?? '';
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('docs/webhooks.md has no verification code between its markers');
  const dir = await mkdtemp(path.join(tmpdir(), 'verify-webhook-'));
  try {
    const file = path.join(dir, 'verify.mjs');
    await writeFile(file, code);
    const loaded = (await import(pathToFileURL(file).href)) as { verifyWebhook: Verify };
    return loaded.verifyWebhook;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
