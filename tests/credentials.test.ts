import { describe, expect, it } from 'vitest';
import { generateCode } from '../activities/codes.js';
import { generateFirstAccessPassword, PasswordHasher } from '../activities/credentials.js';
import { checkPassword } from '../machines/rules/passwordPolicy.js';

describe('generated secrets', () => {
  it('first-access passwords always meet every password rule', () => {
    for (let i = 0; i < 2000; i++) {
      const password = generateFirstAccessPassword();
      expect(checkPassword({ password }), password).toEqual([]);
      expect(password).toHaveLength(12);
    }
  });

  it('one-time codes are 6 digits, zero-padded, and spread over the whole range', () => {
    const codes = Array.from({ length: 5000 }, generateCode);
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(4900);
    expect(codes.some((c) => c.startsWith('0'))).toBe(true);
  });
});

describe('argon2id hashing', () => {
  const current = new PasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 });

  it('verifies the right password only, and never throws on a malformed hash', async () => {
    const hash = await current.hash('Giusta#123');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    expect(await current.verify(hash, 'Giusta#123')).toBe(true);
    expect(await current.verify(hash, 'Sbagliata#123')).toBe(false);
    expect(await current.verify('non-un-hash', 'Giusta#123')).toBe(false);
    expect(await current.verifyAgainstNothing('Giusta#123')).toBe(false);
  });

  it('makes its dummy hash when it is made: the first unknown username costs one verify, not a hash as well', async () => {
    // CPU, not wall-clock time: argon2 runs on the thread pool of this process.
    const params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
    const fresh = Array.from({ length: 6 }, () => new PasswordHasher(params));
    const stored = await new PasswordHasher(params).hash('Giusta#123');
    const cpuOf = async (work: () => Promise<boolean>) => {
      const before = process.cpuUsage();
      expect(await work()).toBe(false);
      const { user, system } = process.cpuUsage(before);
      return user + system;
    };
    // Alternated, so that whatever else loads the machine weighs on both alike.
    let wrongPassword = 0;
    let firstUnknownUsername = 0;
    for (const hasher of fresh) {
      wrongPassword += await cpuOf(() => hasher.verify(stored, 'Sbagliata#123'));
      firstUnknownUsername += await cpuOf(() => hasher.verifyAgainstNothing('Sbagliata#123'));
    }
    // Made at the first unknown username, the dummy would double its cost.
    expect(firstUnknownUsername).toBeLessThan(wrongPassword * 1.5);
  });

  it('asks for a re-hash exactly when the parameters differ from today’s', async () => {
    const older = new PasswordHasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 });
    expect(current.needsRehash(await older.hash('x'))).toBe(true);
    expect(current.needsRehash(await current.hash('x'))).toBe(false);
    expect(current.needsRehash('$2b$10$bcrypt-is-not-argon2')).toBe(true);
  });
});
