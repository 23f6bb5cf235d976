import { describe, expect, it } from 'vitest';
import { parseFrame } from './frame.ts';

describe('parseFrame', () => {
  it('parses only well-formed frames', () => {
    expect(parseFrame('3|10|{"event":"deliver","data":{"x":1}}')).toEqual({ g: 3, next: 10, event: 'deliver', data: { x: 1 } });
    expect(parseFrame('1|0|{"event":"token_revoked","data":{"jti":"a|b"}}')).toEqual({ g: 1, next: 0, event: 'token_revoked', data: { jti: 'a|b' } });
    for (const bad of ['', 'x|1|{}', '1|2|not json', '1|2|{"data":1}', '1|{"event":"x"}', '1.5|2|{"event":"x"}'])
      expect(parseFrame(bad)).toBeUndefined();
  });
});
