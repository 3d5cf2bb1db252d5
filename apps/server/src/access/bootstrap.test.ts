import { describe, expect, it } from 'vitest';
import { publicBase, signInHint, signInLink } from './bootstrap';

describe('start-up lines', () => {
  it('use one host: the sign-in link and the pages share an origin (its storage keeps the key)', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'])
      expect(publicBase(host, 8080)).toBe('http://localhost:8080');
    expect(publicBase('10.0.0.5', 81)).toBe('http://10.0.0.5:81');
    expect(publicBase('fd00::5', 81)).toBe('http://[fd00::5]:81');
    expect(signInLink(publicBase('127.0.0.1', 8080), 'tg_x')).toBe('http://localhost:8080/#key=tg_x');
  });
  it('say after a restart how to make a key', () => {
    expect(signInHint('http://localhost:8080')).toContain('npm run keys -- create <name>');
  });
});
