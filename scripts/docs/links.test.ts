import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Docs must not rot silently: every relative link in the repository's Markdown
// files, and every `#anchor` on one, must resolve the way GitHub resolves it; so
// must the `docs/....md#anchor`-style references in code comments, test names,
// compose files and scripts.

const root = path.resolve(import.meta.dirname, '../..');
const SKIP_DIRS = new Set(['node_modules', '.git', '.cache', 'results']);
const TEXT_FILES = /\.(ts|js|mjs|json|ya?ml|conf|sh|acl|sql|html|css)$|^(Dockerfile|run)$/;

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('profiles-')) walk(path.join(dir, entry.name), out);
    } else if (entry.isFile()) out.push(path.relative(root, path.join(dir, entry.name)));
  }
  return out;
}

/** Markdown without fenced code blocks and code spans, where link syntax is only text. */
function stripCode(markdown: string): string {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      lines.push('');
    } else if (marker) {
      fence = marker;
      lines.push('');
    } else lines.push(line.replace(/(`+)[^`]*?\1/g, ''));
  }
  return lines.join('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  // Code spans keep their text (`<name>` in one is text); outside them, HTML tags go and links keep their text.
  return heading
    .split(/(`+[^`]*`+)/)
    .map((part, i) => (i % 2 === 1 ? part.replace(/`/g, '') : part.replace(/<[^>]+>/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')))
    .join('')
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file offers: its headings (duplicates numbered as GitHub does) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const lines = markdown.split('\n');
  let fence: string | undefined;
  for (const line of lines) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (marker) {
      fence = marker;
      continue;
    }
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const base = slug(heading);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] as string);
  }
  return anchors;
}

/** The link targets of a Markdown file: inline links and images, and reference definitions. */
function linksOf(markdown: string): string[] {
  const text = stripCode(markdown);
  const targets: string[] = [];
  for (const m of text.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1] as string);
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) targets.push(m[1] as string);
  for (const m of text.matchAll(/<a\s+href="([^"]+)"/g)) targets.push(m[1] as string);
  return targets;
}

const anchorCache = new Map<string, Set<string>>();
const anchorsOfFile = (file: string) => {
  let anchors = anchorCache.get(file);
  if (!anchors) anchorCache.set(file, (anchors = anchorsOf(readFileSync(path.join(root, file), 'utf8'))));
  return anchors;
};

/** Why `target` (relative to the repository file `from`, or to the root for absolute paths) does not resolve, or undefined. */
function problem(from: string, target: string, relativeTo: string): string | undefined {
  if (/^[a-z][a-z\d+.-]*:/i.test(target)) return undefined; // https:, mailto:, ...
  const [rawPath = '', anchor] = target.split('#', 2);
  const decoded = decodeURIComponent(rawPath);
  const file = decoded === '' ? from : path.normalize(decoded.startsWith('/') ? decoded.slice(1) : path.join(relativeTo, decoded));
  if (file.startsWith('..')) return `${target}: outside the repository`;
  if (!existsSync(path.join(root, file))) return `${target}: no such file (${file})`;
  if (anchor === undefined || anchor === '' || !file.endsWith('.md') || statSync(path.join(root, file)).isDirectory()) return undefined;
  return anchorsOfFile(file).has(anchor) ? undefined : `${target}: ${file} has no heading or id "${anchor}"`;
}

const files = walk(root);
const markdown = files.filter((f) => f.endsWith('.md'));

describe('links in the repository', () => {
  it('finds the Markdown files', () => {
    expect(markdown).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md', 'deploy/README.md', 'loadtest/README.md']));
  });

  it('every relative link and #anchor in a Markdown file resolves', () => {
    const broken = markdown.flatMap((file) => {
      const targets = linksOf(readFileSync(path.join(root, file), 'utf8'));
      return targets.flatMap((t) => problem(file, t, path.dirname(file)) ?? []).map((p) => `${file}: ${p}`);
    });
    expect(broken).toEqual([]);
  });

  it('every docs path with an anchor named in code, tests, scripts and config resolves', () => {
    const reference = /(?<![\w/.-])((?:\.\.\/)*(?:README\.md|(?:docs|deploy|loadtest|scripts|services|shared|e2e|web)\/[\w./-]*?\.md)(?:#[\w-]+)?)/g;
    const broken = files
      .filter((f) => TEXT_FILES.test(path.basename(f)) && !f.endsWith('package-lock.json') && f !== 'scripts/docs/links.test.ts')
      .flatMap((file) => {
        const text = readFileSync(path.join(root, file), 'utf8');
        // Relative to the file when written as ../, else from the repository root.
        return [...text.matchAll(reference)].flatMap(([, ref = '']) => {
          const p = problem(file, ref, ref.startsWith('../') ? path.dirname(file) : '');
          return p ? [`${file}: ${p}`] : [];
        });
      });
    expect(broken).toEqual([]);
  });
});

describe('the link checker', () => {
  it('makes anchors the way GitHub does', () => {
    const anchors = anchorsOf(
      [
        '# Load scenarios: `npm run loadtest -- <name>`',
        '## Metrics: Prometheus and Grafana',
        '## Metrics: Prometheus and Grafana',
        '```sh',
        '# not a heading',
        '```',
        '<a id="targeted-fan-out"></a>',
      ].join('\n'),
    );
    expect([...anchors].sort()).toEqual([
      'load-scenarios-npm-run-loadtest----name',
      'metrics-prometheus-and-grafana',
      'metrics-prometheus-and-grafana-1',
      'targeted-fan-out',
    ]);
  });

  it('finds links outside code only', () => {
    expect(linksOf('[a](docs/a.md#x) `[b](no.md)` [c][ref]\n\n```\n[d](no.md)\n```\n[ref]: ../c.md\n')).toEqual(['docs/a.md#x', '../c.md']);
  });
});
