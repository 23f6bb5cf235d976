import type { EphemeralFrame, Frame, FrameHandlers } from './types.ts';

/**
 * A numbered frame on a gateway's channel is `<g>|<next>|<json>`: `g` the
 * gateway's frame number, `next` the first seq not yet routed when the frame
 * was routed, `json` is `{"event": name, "data": payload}` (built in
 * lua/deliver.lua). An ephemeral frame is `e|<rooms>|<json>`: the rooms of the
 * event this gateway is registered for, space-separated, and the same JSON
 * (lua/ephemeral.lua); it carries no number.
 */

/** The event of a frame's JSON, or undefined when it is not one. */
function body(json: string): { event: string; data: unknown } | undefined {
  try {
    const parsed = JSON.parse(json) as { event?: unknown; data?: unknown };
    return typeof parsed.event === 'string' ? { event: parsed.event, data: parsed.data } : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a numbered channel frame; undefined for anything that is not one. */
export function parseFrame(raw: string): Frame | undefined {
  const first = raw.indexOf('|');
  const second = raw.indexOf('|', first + 1);
  if (first < 0 || second < 0) return undefined;
  const g = Number(raw.slice(0, first));
  const next = Number(raw.slice(first + 1, second));
  if (!Number.isSafeInteger(g) || !Number.isSafeInteger(next)) return undefined;
  const event = body(raw.slice(second + 1));
  return event && { g, next, ...event };
}

/** Parses an ephemeral channel frame; undefined for anything that is not one. */
export function parseEphemeralFrame(raw: string): EphemeralFrame | undefined {
  if (!raw.startsWith('e|')) return undefined;
  const cut = raw.indexOf('|', 2);
  if (cut < 0) return undefined;
  const rooms = raw.slice(2, cut).split(' ').filter(Boolean);
  if (rooms.length === 0) return undefined;
  const event = body(raw.slice(cut + 1));
  return event && { rooms, ...event };
}

/** Hands one raw channel frame to the handler of its kind. */
export function hearFrame(raw: string, handlers: FrameHandlers): void {
  if (raw.startsWith('e|')) {
    const frame = parseEphemeralFrame(raw);
    if (frame) handlers.ephemeral?.(frame);
    else handlers.malformed?.(raw);
    return;
  }
  const frame = parseFrame(raw);
  if (frame) handlers.frame(frame);
  else handlers.malformed?.(raw);
}
