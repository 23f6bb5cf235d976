import { describe, expect, it } from 'vitest';
import { sanitizeName } from './uploads.ts';

describe('sanitizeName', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\photo.png', 'photo.png'],
    ['name\u0000with\u0007controls\u202e.txt', 'namewithcontrols.txt'],
    ['  spaced  ', 'spaced'],
    ['..', 'file'],
    ['', 'file'],
    ['/', 'file'],
    ['e\u0301t\u00e9.txt', '\u00e9t\u00e9.txt'],
    ['x'.repeat(300), 'x'.repeat(200)],
  ])('%j -> %j', (raw, name) => {
    expect(sanitizeName(raw)).toBe(name);
  });
});
