import { describe, expect, it } from 'vitest';
import { parseEphemeralFrame, parseFrame } from './frame.ts';

describe('parseFrame', () => {
  it('parses only well-formed frames', () => {
    expect(parseFrame('3|10|{"event":"deliver","data":{"x":1}}')).toEqual({ g: 3, next: 10, event: 'deliver', data: { x: 1 } });
    expect(parseFrame('1|0|{"event":"token_revoked","data":{"jti":"a|b"}}')).toEqual({ g: 1, next: 0, event: 'token_revoked', data: { jti: 'a|b' } });
    for (const bad of ['', 'x|1|{}', '1|2|not json', '1|2|{"data":1}', '1|{"event":"x"}', '1.5|2|{"event":"x"}'])
      expect(parseFrame(bad)).toBeUndefined();
    expect(parseFrame('e|room:r1|{"event":"presence","data":{}}')).toBeUndefined();
  });

  it('parses only well-formed ephemeral frames', () => {
    expect(parseEphemeralFrame('e|room:r1 user:u|{"event":"presence","data":{"a":"x|y"}}')).toEqual({
      rooms: ['room:r1', 'user:u'],
      event: 'presence',
      data: { a: 'x|y' },
    });
    for (const bad of ['', 'e|', 'e|room:r1', 'e||{"event":"x"}', 'e|room:r1|nope', 'e|room:r1|{"data":1}', '1|2|{"event":"x"}'])
      expect(parseEphemeralFrame(bad)).toBeUndefined();
  });
});
