import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { schemaDocument } from '@chat/shared/testing';

export const ASYNCAPI_PATH = path.resolve(import.meta.dirname, '../../../docs/asyncapi.yaml');

interface Ref {
  $ref: string;
}
export interface AsyncApiDocument {
  asyncapi: string;
  channels: Record<string, { messages: Record<string, Ref> }>;
  operations: Record<string, { action: 'send' | 'receive'; channel: Ref; messages: Ref[]; reply?: { messages: Ref[] } }>;
  components: {
    messages: Record<string, { name: string; payload: Ref }>;
    schemas: Record<string, FrameSchema>;
  };
}

/** Enough of a frame's JSON Schema to find the `type` values it accepts, also when it is a union of objects. */
interface FrameSchema {
  properties?: { type?: { const?: string; enum?: string[] } };
  anyOf?: FrameSchema[];
}

export const loadAsyncApi = () => parse(readFileSync(ASYNCAPI_PATH, 'utf8')) as AsyncApiDocument;

const last = (ref: Ref) => ref.$ref.split('/').at(-1) as string;

/**
 * Checks what the gateway sends against docs/asyncapi.yaml: a plain-WebSocket
 * frame must match the message whose payload's `type` it carries, a Socket.IO
 * event the message of its name, an ack the reply of the send operation.
 */
export function frameContract(doc: AsyncApiDocument) {
  const schemas = schemaDocument(doc);
  const sentOn = (channel: string) =>
    Object.values(doc.operations)
      .filter((op) => op.action === 'send' && last(op.channel) === channel)
      .flatMap((op) => op.messages.map(last));
  const payloadPointer = (key: string) => `/components/messages/${key}/payload`;
  const schemaOf = (key: string) => doc.components.schemas[last(doc.components.messages[key]?.payload ?? { $ref: '' })];

  const plainByType = new Map<string, string>();
  for (const key of sentOn('plainWebSocket')) {
    const schema = schemaOf(key);
    for (const branch of schema?.anyOf ?? [schema]) {
      const type = branch?.properties?.type;
      for (const value of type?.enum ?? (type?.const === undefined ? [] : [type.const])) plainByType.set(value, key);
    }
  }
  const ioByName = new Map(sentOn('socketIo').map((key) => [doc.components.messages[key]?.name as string, key]));
  const ackKeys = Object.values(doc.operations).flatMap((op) => op.reply?.messages.map(last) ?? []);

  const check = (where: string, key: string | undefined, value: unknown) =>
    key === undefined ? [`${where}: not in docs/asyncapi.yaml`] : schemas.problems(payloadPointer(key), value).map((p) => `${where}: ${p}`);

  return {
    wsFrame(frame: unknown): string[] {
      const type = (frame as { type?: unknown } | null)?.type;
      return check(`plain WebSocket frame ${JSON.stringify(type)}`, typeof type === 'string' ? plainByType.get(type) : undefined, frame);
    },
    ioEvent(name: string, payload: unknown): string[] {
      return check(`Socket.IO event ${name}`, ioByName.get(name), payload);
    },
    ioAck(ack: unknown): string[] {
      return ackKeys.length === 0 ? ['no ack message documented'] : check('Socket.IO ack', ackKeys[0], ack);
    },
  };
}
