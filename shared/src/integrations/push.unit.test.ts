import { describe, expect, it } from 'vitest';
import { mentionsIn, noticeText } from './push.ts';

describe('mentionsIn', () => {
  it('finds @usernames once each, lower-cased, not inside words or e-mail addresses', () => {
    expect(mentionsIn('@Alice and @bob_2, see @alice again')).toEqual(['alice', 'bob_2']);
    expect(mentionsIn('mail me at carol@example.com')).toEqual([]);
    expect(mentionsIn('@@dave and @ed')).toEqual([]);
  });

  it('does not take the punctuation that ends a sentence as part of a name', () => {
    expect(mentionsIn('thanks @erin. and @frank-')).toEqual(['erin', 'frank']);
    expect(mentionsIn('@gina.lee: ok')).toEqual(['gina.lee']);
  });
});

describe('noticeText', () => {
  it('shows one message as it is and a burst as a count', () => {
    expect(noticeText({ title: 'alice', body: 'hi', count: 1 })).toEqual({ title: 'alice', body: 'hi' });
    expect(noticeText({ title: 'alice', body: 'hi', count: 4 })).toEqual({ title: 'alice', body: '4 new messages' });
  });
});
