import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The router's Redis scripts, read once when this module loads from the
 * `.lua` files beside it (lua/). Each script is one file that names its KEYS
 * and ARGV at the top; the helpers it calls (deliver.lua, drain.lua) are put
 * in front of it here, so each script sent to Redis is self-contained.
 */

const read = (name: string) => readFileSync(path.join(import.meta.dirname, 'lua', `${name}.lua`), 'utf8');

const helpers = { deliver: read('deliver'), drain: read('drain') };

/** A script's file with the helpers it uses in front, in the order given (drain calls deliver). */
const withHelpers = (name: string, ...uses: Array<keyof typeof helpers>) => [...uses.map((helper) => helpers[helper]), read(name)].join('\n');

export const ROUTER_SCRIPTS = {
  route: withHelpers('route', 'deliver', 'drain'),
  init: withHelpers('init', 'deliver', 'drain'),
  control: withHelpers('control', 'deliver'),
  ephemeral: withHelpers('ephemeral'),
  register: withHelpers('register'),
  unregister: withHelpers('unregister'),
  sync: withHelpers('sync'),
} as const;

export type RouterScript = keyof typeof ROUTER_SCRIPTS;
