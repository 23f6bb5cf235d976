import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The command line of a docs generator: writes `file`, or with `--check` only
 * compares and exits 1 when the committed file is stale (`command` regenerates it).
 */
export async function writeOrCheck(file: string, rendered: string, command: string): Promise<void> {
  const name = path.relative(process.cwd(), file);
  if (process.argv.includes('--check')) {
    const committed = await readFile(file, 'utf8').catch(() => '');
    if (committed !== rendered) {
      console.error(`${name} is stale: run ${command}`);
      process.exit(1);
    }
  } else {
    await writeFile(file, rendered);
    console.log(`wrote ${name}`);
  }
}
