import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_VARIABLES, describeConfig, describeShape, GATEWAY_VARIABLES, WORKER_VARIABLES } from '@chat/shared/config';
import { CONFIGURATION_FILE, renderConfiguration } from './config.ts';

describe('docs/configuration.md', () => {
  it('is what the configuration schemas generate (npm run docs:config)', () => {
    expect(readFileSync(CONFIGURATION_FILE, 'utf8'), 'stale: run npm run docs:config').toBe(renderConfiguration());
  });

  it('documents every variable each service reads, in the sections they read', () => {
    const sections = describeConfig();
    const names = (...titles: string[]) => sections.filter((s) => titles.includes(s.title)).flatMap((s) => s.variables.map((v) => v.name));
    expect(names('Database', 'Every service', 'Integrations', 'API').sort()).toEqual([...API_VARIABLES].sort());
    expect(names('Database', 'Every service', 'Gateway').sort()).toEqual([...GATEWAY_VARIABLES].sort());
    expect(names('Database', 'Every service', 'Integrations', 'Worker').sort()).toEqual([...WORKER_VARIABLES].sort());
  });

  it('takes defaults and values from the schemas, and refuses a variable without a description', () => {
    const [port, level, timeout] = describeShape({
      PORT: z.coerce.number().int().min(0).max(65_535).default(3000).meta({ description: 'p' }),
      LEVEL: z.enum(['a', 'b', 'c']).optional().meta({ description: 'l' }),
      TIMEOUT: z.stringbool().default(false).meta({ description: 't' }),
    });
    expect(port).toEqual({ name: 'PORT', default: '`3000`', values: 'integer, 0 to 65,535', description: 'p' });
    expect(level).toEqual({ name: 'LEVEL', default: undefined, values: '`a`, `b` or `c`', description: 'l' });
    expect(timeout).toEqual({ name: 'TIMEOUT', default: '`false`', values: '`true` or `false`', description: 't' });
    expect(() => describeShape({ SECRET: z.string() })).toThrow(/SECRET: no description/);
  });
});
