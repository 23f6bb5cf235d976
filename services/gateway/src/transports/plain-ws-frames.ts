import type { RawData } from 'ws';
import { clientCommands, type CommandName } from '@chat/shared/events';
import type { ErrorBody } from '@chat/shared/presenters';

/** What a client frame asks for, once its framing has been checked. */
export type Inbound =
  { type: 'ping' } | { type: 'command'; name: CommandName; body: object; clientMsgId: string | undefined } | { type: 'invalid'; error: ErrorBody };

const isCommand = (type: unknown): type is CommandName => typeof type === 'string' && Object.hasOwn(clientCommands, type);
const KNOWN_TYPES = [...Object.keys(clientCommands), 'ping'].map((t) => `"${t}"`).join(' or ');

const invalid = (error: string, code: ErrorBody['code'] = 'validation_failed'): Inbound => ({ type: 'invalid', error: { error, code } });

/**
 * Checks a plain-WebSocket client frame's framing: text, size, a JSON object,
 * a known type. The message itself is validated by the shared write path.
 */
export function parseInbound(data: RawData, isBinary: boolean, maxBytes: number): Inbound {
  const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
  if (isBinary) return invalid('binary frames are not supported');
  if (bytes > maxBytes) return invalid(`frame exceeds ${maxBytes} bytes`, 'payload_too_large');
  let frame: unknown;
  try {
    frame = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
  } catch {
    return invalid('frame is not valid JSON');
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return invalid('frame must be a JSON object');
  const { type, client_msg_id: clientMsgId } = frame as { type?: unknown; client_msg_id?: unknown };
  if (type === 'ping') return { type: 'ping' };
  if (!isCommand(type)) return invalid(`unknown frame type; expected ${KNOWN_TYPES}`);
  // Echoed on the ack or error only when it is a string; the write path validates it.
  return { type: 'command', name: type, body: frame, clientMsgId: typeof clientMsgId === 'string' ? clientMsgId : undefined };
}
