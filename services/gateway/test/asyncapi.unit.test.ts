import { readFileSync } from 'node:fs';
import specs from '@asyncapi/specs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { pointerSegment, schemaDocument, messageFixture } from '@chat/shared/testing';
import { renderAsyncApi } from '../../../scripts/docs/asyncapi.ts';
import { ASYNCAPI_PATH, frameContract, loadAsyncApi } from './frame-contract.ts';

// The gateway tests check every frame, event and ack they receive against
// docs/asyncapi.yaml (harness.ts); these tests check the document itself.

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const doc = loadAsyncApi();

describe('docs/asyncapi.yaml', () => {
  it('is what the frame schemas generate (npm run docs:asyncapi)', () => {
    expect(readFileSync(ASYNCAPI_PATH, 'utf8'), 'stale: run npm run docs:asyncapi').toBe(renderAsyncApi());
  });

  it('is a valid AsyncAPI 3.0 document', () => {
    // The specification bundles the draft-07 meta-schema itself; ajv must not add its own copy.
    const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats(ajv);
    const validate = ajv.compile(specs.schemas['3.0.0']);
    validate(doc);
    expect(validate.errors ?? []).toEqual([]);
  });

  it('compiles every payload schema, with every $ref resolving', () => {
    const schemas = schemaDocument(doc);
    for (const key of Object.keys(doc.components.messages)) {
      expect(() => schemas.compile(`/components/messages/${pointerSegment(key)}/payload`), key).not.toThrow();
    }
    for (const name of Object.keys(doc.components.schemas))
      expect(() => schemas.compile(`/components/schemas/${pointerSegment(name)}`), name).not.toThrow();
  });

  it('puts every message in a channel and an operation, and each operation only uses its own channel', () => {
    const inChannels = Object.entries(doc.channels).flatMap(([channel, c]) => Object.keys(c.messages).map((key) => `${channel}/${key}`));
    expect(inChannels.map((k) => k.split('/')[1]).sort()).toEqual(Object.keys(doc.components.messages).sort());
    const used = new Set<string>();
    for (const [name, op] of Object.entries(doc.operations)) {
      const channel = op.channel.$ref.replace('#/channels/', '');
      for (const ref of [...op.messages, ...(op.reply?.messages ?? [])]) {
        expect(ref.$ref, name).toMatch(new RegExp(`^#/channels/${channel}/messages/`));
        used.add(ref.$ref.replace('#/channels/', '').replace('/messages/', '/'));
      }
    }
    expect([...used].sort()).toEqual(inChannels.sort());
  });

  it('documents both directions of both protocols', () => {
    const actions = (channel: string) =>
      new Set(
        Object.values(doc.operations)
          .filter((op) => op.channel.$ref === `#/channels/${channel}`)
          .map((op) => op.action),
      );
    expect(actions('plainWebSocket')).toEqual(new Set(['send', 'receive']));
    expect(actions('socketIo')).toEqual(new Set(['send', 'receive']));
  });
});

describe('the frame check the gateway harness applies', () => {
  const contract = frameContract(doc);
  const message = messageFixture({ id: crypto.randomUUID(), content: 'hi' });

  it('accepts conforming frames and refuses unknown types, missing fields and wrong values', () => {
    expect(contract.wsFrame({ type: 'direct_message', message, cursor: 'm1.1.x' })).toEqual([]);
    expect(contract.wsFrame({ type: 'pong', status: 'ok' })).toEqual([]);
    expect(contract.wsFrame({ type: 'hello' })).toEqual(['plain WebSocket frame "hello": not in docs/asyncapi.yaml']);
    expect(contract.wsFrame({ type: 'message', message }).join()).toMatch(/must have required property 'cursor'/);
    expect(contract.wsFrame({ type: 'error', error: 'x', code: 'oops' }).join()).toMatch(/code must be equal to one of the allowed values/);
    expect(contract.ioEvent('direct_message', { ...message, cursor: 'm1.1.x' })).toEqual([]);
    expect(contract.ioEvent('presence', { user_id: 'u', username: 'a', status: 'away' }).join()).toMatch(
      /status must be equal to one of the allowed values/,
    );
    expect(contract.ioEvent('surprise', {})).toEqual(['Socket.IO event surprise: not in docs/asyncapi.yaml']);
    expect(contract.ioAck({ ok: true, message })).toEqual([]);
    expect(contract.ioAck({ ok: false, error: 'slow down', code: 'rate_limited', retry_after: 3 })).toEqual([]);
    expect(contract.ioAck({ ok: false }).join()).toMatch(/required property 'error'/);
  });
});
