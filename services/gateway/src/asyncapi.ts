import { z } from 'zod';
import { ERROR_CODES } from '@chat/shared/errors';
import {
  ackFrame,
  clientCommands,
  connectionFrame,
  declaredInput,
  ioAck,
  ioEventPayloads,
  pascal,
  pingFrame,
  plainEventFrames,
  pongFrame,
  serverEvents,
  type CommandName,
  type ServerEventName,
} from '@chat/shared/events';
import { CloseCode } from './transports/close-codes.ts';
import { PLAIN_WS_PATH } from './transports/plain-ws.ts';

/*
 * The gateway's two socket protocols as an AsyncAPI 3 document, generated
 * from the event and command catalog both transports carry
 * (shared/src/events/frames.ts) and the schemas the write path validates
 * commands with. `npm run docs:asyncapi` writes it to docs/asyncapi.yaml; a
 * test fails when the committed file differs from what this builds, and the
 * gateway tests check every frame and event they receive against it.
 */

type Direction = 'send' | 'receive';
interface MessageSpec {
  /** Key in components.messages and in the channel. */
  key: string;
  /** The frame `type` (plain WebSocket) or the event name (Socket.IO). */
  name: string;
  /** A registered frame schema, or the id of one of the command inputs. */
  schema: z.ZodType | string;
  summary: string;
  /** `send`: the gateway sends it to clients; `receive`: clients send it. */
  action: Direction;
}

const CLOSE_CODES = Object.entries(CloseCode)
  .map(([name, code]) => `\`${code}\` ${name}`)
  .join(', ');

const AUTH =
  "a JWT from `POST /api/auth/login`: `Authorization: Bearer <token>`, the `jwt_token` cookie (same origin only), or `?token=` (the seed clients' way)";

const events = Object.keys(serverEvents) as ServerEventName[];
const commands = Object.keys(clientCommands) as CommandName[];

/**
 * The document for a gateway whose rules validate command inputs with
 * `inputs[command]` (those that depend on configuration, such as the message
 * length limit); other commands' inputs are the catalog's.
 */
export function asyncApiDocument(inputs: Partial<Record<CommandName, z.ZodType>>) {
  const inputOf = (name: CommandName) => inputs[name] ?? declaredInput(name) ?? z.object({});
  // Built per call from the configured write-path schemas, so kept out of zod's global registry.
  const commandInputs = Object.fromEntries(
    commands.flatMap((name) => {
      const { summary } = clientCommands[name];
      return [
        [
          `Ws${pascal(name)}Command`,
          {
            schema: z.intersection(z.object({ type: z.literal(name) }), inputOf(name)),
            description: `${summary}; with a \`client_msg_id\` the gateway answers \`ack\` (or \`error\` with the same id), and retries with the id do not act twice`,
          },
        ],
        [`Io${pascal(name)}Command`, { schema: inputOf(name), description: `${summary}; acknowledged with \`IoAck\` when the emit asks for an ack` }],
      ];
    }),
  );

  /** Every server event, as one transport frames it (`ws` or `io`). */
  const eventSpecs = (prefix: 'ws' | 'io', schemaOf: (name: ServerEventName) => z.ZodType) =>
    events.map((name): MessageSpec => ({
      key: `${prefix}${pascal(name)}`,
      name,
      schema: schemaOf(name),
      summary: serverEvents[name].summary,
      action: 'send',
    }));
  /** Every client command, as one transport receives it; its schema is among the command inputs above. */
  const commandSpecs = (prefix: 'ws' | 'io', suffix = '') =>
    commands.map((name): MessageSpec => ({
      key: `${prefix}${pascal(name)}Command`,
      name,
      schema: `${prefix === 'ws' ? 'Ws' : 'Io'}${pascal(name)}Command`,
      summary: `${clientCommands[name].summary}${suffix}`,
      action: 'receive',
    }));

  const plain: MessageSpec[] = [
    { key: 'wsConnection', name: 'connection', schema: connectionFrame, summary: 'Connected (first frame)', action: 'send' },
    ...eventSpecs('ws', (name) => plainEventFrames[name]),
    { key: 'wsAck', name: 'ack', schema: ackFrame, summary: 'A command with a client_msg_id succeeded', action: 'send' },
    { key: 'wsPong', name: 'pong', schema: pongFrame, summary: 'Answer to ping', action: 'send' },
    ...commandSpecs('ws'),
    { key: 'wsPing', name: 'ping', schema: pingFrame, summary: 'Application-level ping', action: 'receive' },
  ];
  const socketIo: MessageSpec[] = [
    ...eventSpecs('io', (name) => ioEventPayloads[name]),
    ...commandSpecs('io', ' (emit with an ack)'),
    { key: 'ioAck', name: 'ack', schema: ioAck, summary: 'The acknowledgement of a command emit', action: 'send' },
  ];

  const ids = [...plain, ...socketIo].flatMap((m) => (typeof m.schema === 'string' ? [] : [idOf(m.schema)]));
  const messages = Object.fromEntries(
    [...plain, ...socketIo].map((m) => [
      m.key,
      { name: m.name, summary: m.summary, payload: { $ref: `#/components/schemas/${typeof m.schema === 'string' ? m.schema : idOf(m.schema)}` } },
    ]),
  );
  const channelMessages = (specs: MessageSpec[]) => Object.fromEntries(specs.map((m) => [m.key, { $ref: `#/components/messages/${m.key}` }]));
  const operation = (channel: string, m: MessageSpec): [string, object] => [
    `${m.action}${m.key[0]?.toUpperCase()}${m.key.slice(1)}`,
    {
      action: m.action,
      channel: { $ref: `#/channels/${channel}` },
      summary: m.summary,
      messages: [{ $ref: `#/channels/${channel}/messages/${m.key}` }],
    },
  ];

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat gateway',
      version: '1.0.0',
      description: [
        "Real-time delivery of the chat cluster, over two protocols on the same gateways behind nginx: a plain WebSocket speaking the seed's JSON frames, and Socket.IO.",
        "Every message is delivered to each of a user's connections once and in order. Each carries a `cursor`; a client that reconnects with its last cursor as `since` gets what it missed (then `resumed`), or `reload` when too much was missed.",
        'Presence (`presence`) is ephemeral: never stored or replayed, sent only to connections that share a conversation with the user or watch them (`presence_watch`), at most one per user per PRESENCE_FLUSH_INTERVAL and connection.',
        `Error codes (\`code\` of every error): ${ERROR_CODES.map((c) => `\`${c}\``).join(', ')}.`,
      ].join('\n\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      nginx: { host: 'localhost:8080', protocol: 'ws', description: 'The one entry point (sticky for Socket.IO); `wss` behind TLS' },
    },
    channels: {
      plainWebSocket: {
        address: PLAIN_WS_PATH,
        title: 'Plain WebSocket',
        description: [
          `One JSON object per text frame, both ways. Authenticate with ${AUTH}. Resume with \`?since=<cursor>\`.`,
          'A refused handshake is an HTTP answer with the error body (401, 403, 429, 503); a refused `since` cursor is an `error` frame followed by close 4003.',
          `Close codes: ${CLOSE_CODES}. The server pings every WEBSOCKET_PING_PERIOD and drops peers that miss WEBSOCKET_PONG_WAIT.`,
        ].join('\n\n'),
        messages: channelMessages(plain),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: { type: 'string', description: 'The JWT, when neither the header nor the cookie carries it' },
                since: { type: 'string', description: 'A cursor from an earlier connection: replay what came after it' },
              },
            },
          },
        },
      },
      socketIo: {
        address: '/socket.io/',
        title: 'Socket.IO',
        description: [
          `Socket.IO v4 (Engine.IO 4), default namespace; events are named by the message \`name\`. Authenticate with \`auth: { token }\` in the client options, or ${AUTH}. Resume with \`auth: { since: <cursor> }\`.`,
          'A refused handshake is a `connect_error` whose `data` is the error body. Server-side disconnects follow an `error` event when the client can act on it (revoked or expired token, failed resume).',
        ].join('\n\n'),
        messages: channelMessages(socketIo),
      },
    },
    operations: Object.fromEntries([
      ...plain.map((m) => operation('plainWebSocket', m)),
      ...socketIo.filter((m) => m.key !== 'ioAck' && m.action === 'send').map((m) => operation('socketIo', m)),
      ...socketIo
        .filter((m) => m.action === 'receive')
        .map((m): [string, object] => {
          const [key, op] = operation('socketIo', m);
          return [key, { ...op, reply: { channel: { $ref: '#/channels/socketIo' }, messages: [{ $ref: '#/channels/socketIo/messages/ioAck' }] } }];
        }),
    ]),
    components: {
      schemas: {
        ...componentSchemas(ids),
        ...Object.fromEntries(
          Object.entries(commandInputs).map(([id, s]) => [
            id,
            { ...draft7(z.toJSONSchema(s.schema, { target: 'draft-7', io: 'input' })), description: s.description },
          ]),
        ),
      },
      messages,
    },
  };
}

function idOf(schema: z.ZodType): string {
  const id = z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error('every frame schema needs .meta({ id })');
  return id;
}

/** JSON Schemas (draft 7, as AsyncAPI's Schema Object) of `roots` and every schema they refer to, by id. */
function componentSchemas(roots: string[]): Record<string, object> {
  const all = z.toJSONSchema(z.globalRegistry, { target: 'draft-7', io: 'input', uri: (id) => `#/components/schemas/${id}` }).schemas;
  const picked: Record<string, object> = {};
  const visit = (id: string) => {
    if (picked[id]) return;
    const schema = draft7(all[id] ?? {});
    if (Object.keys(schema).length === 0) throw new Error(`no schema registered as ${id}`);
    picked[id] = schema;
    for (const match of JSON.stringify(schema).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) visit(match[1] as string);
  };
  for (const id of roots) visit(id);
  return Object.fromEntries(Object.entries(picked).sort(([a], [b]) => a.localeCompare(b)));
}

/** A component schema without the dialect and id zod writes at its root: the document states them. */
function draft7(schema: object): object {
  const copy: Record<string, unknown> = { ...schema };
  delete copy.$schema;
  delete copy.$id;
  return copy;
}
