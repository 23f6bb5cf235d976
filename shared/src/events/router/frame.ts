import type { Frame } from './types.ts';

/**
 * A frame on a gateway's channel is `<g>|<next>|<json>`: `g` the gateway's
 * frame number, `next` the first seq not yet routed when the frame was
 * routed, `json` is `{"event": name, "data": payload}` (built in lua/deliver.lua).
 */

/** Parses a channel frame; undefined for anything that is not one. */
export function parseFrame(raw: string): Frame | undefined {
  const first = raw.indexOf('|');
  const second = raw.indexOf('|', first + 1);
  if (first < 0 || second < 0) return undefined;
  const g = Number(raw.slice(0, first));
  const next = Number(raw.slice(first + 1, second));
  if (!Number.isSafeInteger(g) || !Number.isSafeInteger(next)) return undefined;
  try {
    const body = JSON.parse(raw.slice(second + 1)) as { event?: unknown; data?: unknown };
    if (typeof body.event !== 'string') return undefined;
    return { g, next, event: body.event, data: body.data };
  } catch {
    return undefined;
  }
}
