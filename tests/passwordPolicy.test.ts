import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  checkPassword,
  describeViolations,
  violationMessages,
  PASSWORD_HISTORY_DEPTH,
  type PasswordCandidate,
  type PasswordViolation,
} from '../machines/rules/passwordPolicy.js';

/** The order of the PasswordViolation union, which is the reporting order. */
const ORDER: PasswordViolation[] = [
  'too_short',
  'no_upper',
  'no_lower',
  'no_digit',
  'no_special',
  'contains_username',
  'recently_used',
  'confirmation_mismatch',
  'contains_mailbox_part',
  'repeated_characters',
];

const check = (password: string, rest: Omit<PasswordCandidate, 'password'> = {}) =>
  checkPassword({ password, ...rest });

describe('checkPassword, one rule at a time', () => {
  it('accepts a password that follows every rule', () => {
    expect(check('Fondo#2024')).toEqual([]);
  });

  it('too_short: fewer than 8 characters, counted as code points', () => {
    expect(check('Ab1!efg')).toEqual(['too_short']);
    expect(check('Ab1!efgh')).toEqual([]);
    // 7 code points but 10 UTF-16 units: still too short.
    expect(check('Ab1!😀😀😀')).toEqual(['too_short']);
    // 8 code points, some outside the BMP: long enough.
    expect(check('Ab1!😀😀😀x')).toEqual([]);
  });

  it('too_short honours a custom minLength', () => {
    expect(check('Abcdef1!', { minLength: 12 })).toEqual(['too_short']);
    expect(check('Abcdef1!xyz#', { minLength: 12 })).toEqual([]);
  });

  it('no_upper, no_lower, no_digit, no_special', () => {
    expect(check('abcdef1!')).toEqual(['no_upper']);
    expect(check('ABCDEF1!')).toEqual(['no_lower']);
    expect(check('Abcdefg!')).toEqual(['no_digit']);
    expect(check('Abcdefg1')).toEqual(['no_special']);
  });

  it('recognises accented and other Unicode letters', () => {
    expect(check('perché1!')).toEqual(['no_upper']);
    expect(check('PERCHÉ1!')).toEqual(['no_lower']);
    expect(check('Perché1!')).toEqual([]);
    // Only accented letters: both cases are present.
    expect(check('éèàòù1!É')).toEqual([]);
    expect(check('ΣΟΦΊΑ1!ω')).toEqual([]);
    // Caseless letters are neither upper nor lower.
    expect(check('中文密码中文1!')).toEqual(['no_upper', 'no_lower']);
  });

  it('a space (or other blank) does not count as a special character', () => {
    expect(check('Abcdef 1')).toEqual(['no_special']);
    expect(check('Abcdef\u00a01')).toEqual(['no_special']);
    expect(check('Abcdef\t1')).toEqual(['no_special']);
    expect(check('Abcdef 1!')).toEqual([]);
  });

  it('invisible and combining characters do not count as special', () => {
    expect(check('Abcdefg1\u200b')).toEqual(['no_special']);
    expect(check('Abcdefg1\u0301')).toEqual(['no_special']);
    expect(check('Abcdefg1€')).toEqual([]);
  });

  it('contains_username: identifiers are matched case-insensitively', () => {
    expect(check('xxMROSSI1!a', { identifiers: ['mrossi'] })).toEqual(['contains_username']);
    expect(check('Rssmra80a01h501u!', { identifiers: ['RSSMRA80A01H501U'] })).toEqual([
      'contains_username',
    ]);
    expect(check('Matr#123456a', { identifiers: ['mrossi', '123456'] })).toEqual(['contains_username']);
    expect(check('Fondo#2024', { identifiers: ['mrossi', '123456'] })).toEqual([]);
  });

  it('contains_username: case folding covers ß/SS and trims identifiers', () => {
    expect(check('GROSSI#1a', { identifiers: ['Großi'] })).toEqual(['contains_username']);
    expect(check('xxMRossi1!', { identifiers: ['  mrossi  '] })).toEqual(['contains_username']);
  });

  it('contains_username ignores empty and short identifiers', () => {
    expect(check('Abcdef1!', { identifiers: ['', '   ', 'ab', 'A', 'b1'] })).toEqual([]);
    expect(check('Abcdef1!', { identifiers: ['abc'] })).toEqual(['contains_username']);
  });

  it('confirmation_mismatch only when a different confirmation is given', () => {
    expect(check('Fondo#2024', { confirm: 'Fondo#2025' })).toEqual(['confirmation_mismatch']);
    expect(check('Fondo#2024', { confirm: 'fondo#2024' })).toEqual(['confirmation_mismatch']);
    expect(check('Fondo#2024', { confirm: 'Fondo#2024' })).toEqual([]);
    expect(check('Fondo#2024', { confirm: '' })).toEqual(['confirmation_mismatch']);
  });

  it('contains_mailbox_part: any 3-character slice of the mailbox name, any case', () => {
    const mailbox = 'mario.rossi';
    expect(check('Xy#1MAR9z', { mailbox })).toEqual(['contains_mailbox_part']);
    expect(check('Zo.R1!abc', { mailbox })).toEqual(['contains_mailbox_part']);
    expect(check('Qw#1zssiZ', { mailbox })).toEqual(['contains_mailbox_part']);
    // Two-character overlaps are allowed.
    expect(check('Fondo#2024', { mailbox })).toEqual([]);
    expect(check('Ma!1xyzQ', { mailbox })).toEqual([]);
  });

  it("repeated_characters: 'aa' allowed, 'aaa' refused, only when a mailbox is given", () => {
    const mailbox = 'pec.box';
    expect(check('Fondo#2024aa', { mailbox })).toEqual([]);
    expect(check('Fondo#2024aaa', { mailbox })).toEqual(['repeated_characters']);
    expect(check('Fondo#2024aAa', { mailbox })).toEqual([]);
    expect(check('Fondo#2024😀😀😀', { mailbox })).toEqual(['repeated_characters']);
    expect(check('Fondo#2000', { mailbox })).toEqual(['repeated_characters']);
    // Not a rule of the reserved area itself.
    expect(check('Fondo#2024aaa')).toEqual([]);
  });

  it('never reports recently_used: only the credentials store can', () => {
    expect(check('Fondo#2024', { identifiers: ['Fondo#2024'] })).not.toContain('recently_used');
  });
});

describe('checkPassword, many rules at once', () => {
  it('returns every violated rule, in union order', () => {
    expect(
      check('中中中', { confirm: 'x', identifiers: ['中中中'], mailbox: '中中中' }),
    ).toEqual([
      'too_short',
      'no_upper',
      'no_lower',
      'no_digit',
      'no_special',
      'contains_username',
      'confirmation_mismatch',
      'contains_mailbox_part',
      'repeated_characters',
    ]);
  });

  it('a realistic bad password during the PEC migration', () => {
    expect(
      check('mario111', { confirm: 'mario11', identifiers: ['MRossi', 'mario'], mailbox: 'mario.rossi' }),
    ).toEqual([
      'no_upper',
      'no_special',
      'contains_username',
      'confirmation_mismatch',
      'contains_mailbox_part',
      'repeated_characters',
    ]);
  });
});

describe('describeViolations and messages', () => {
  it('has a non-empty Italian message for every code', () => {
    for (const code of ORDER) {
      expect(violationMessages[code]).toMatch(/^La password .+\.$/);
    }
    expect(Object.keys(violationMessages).sort()).toEqual([...ORDER].sort());
    expect(violationMessages.too_short).toBe('La password deve contenere almeno 8 caratteri.');
  });

  it('mentions the history depth in the recently_used message', () => {
    expect(PASSWORD_HISTORY_DEPTH).toBe(5);
    expect(violationMessages.recently_used).toBe(
      'La password non può essere uguale a una delle ultime 5 utilizzate.',
    );
  });

  it('returns messages aligned with the codes, deduplicated and in union order', () => {
    const merged: PasswordViolation[] = ['recently_used', 'no_digit', 'too_short', 'no_digit'];
    expect(describeViolations(merged)).toEqual({
      violations: ['too_short', 'no_digit', 'recently_used'],
      messages: [
        violationMessages.too_short,
        violationMessages.no_digit,
        violationMessages.recently_used,
      ],
    });
    expect(describeViolations([])).toEqual({ violations: [], messages: [] });
  });
});

// ---------------------------------------------------------------- properties

const UPPER = ['A', 'Z', 'È', 'Ö', 'Ñ', 'Ω'];
const LOWER = ['a', 'z', 'è', 'ö', 'ß', 'ω'];
const DIGITS = ['0', '5', '9', '٣'];
const SPECIALS = ['!', '?', '@', '#', '%', '&', '€', '.', '-', '_', '*'];
/** Characters that satisfy none of the four character-class rules. */
const NEUTRAL = [' ', '\u00a0', '\t', '中', '\u0301', '\u200b', '²', 'ǅ'];
const ALL_CHARS = [...UPPER, ...LOWER, ...DIGITS, ...SPECIALS, ...NEUTRAL, '😀'];

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789àèéìòù'.split('');

/** A password that satisfies every rule when no identifiers, confirmation or mailbox are given. */
const validBase = fc
  .tuple(
    fc.constantFrom(...UPPER),
    fc.constantFrom(...LOWER),
    fc.constantFrom(...DIGITS),
    fc.constantFrom(...SPECIALS),
    fc.array(fc.constantFrom(...ALL_CHARS), { minLength: 4, maxLength: 12 }),
  )
  .chain(([u, l, d, s, rest]) => {
    const chars = [u, l, d, s, ...rest];
    return fc.shuffledSubarray(chars, { minLength: chars.length, maxLength: chars.length });
  })
  .map((chars) => chars.join(''));

/** Re-cases each character of a string according to the flags. */
const recase = (chars: string[], upper: boolean[]) =>
  chars.map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join('');

/** An identifier (>= 3 characters) as stored, and the same identifier re-cased as a user might type it. */
const identifierPair = fc
  .array(fc.record({ ch: fc.constantFrom(...ALNUM), stored: fc.boolean(), typed: fc.boolean() }), {
    minLength: 3,
    maxLength: 12,
  })
  .map((cs) => ({
    stored: recase(cs.map((c) => c.ch), cs.map((c) => c.stored)),
    typed: recase(cs.map((c) => c.ch), cs.map((c) => c.typed)),
  }));

const insertAt = (base: string, piece: string, at: number) => {
  const cps = Array.from(base);
  const i = at % (cps.length + 1);
  return [...cps.slice(0, i), piece, ...cps.slice(i)].join('');
};

const anyCandidate: fc.Arbitrary<PasswordCandidate> = fc.record(
  {
    password: fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.string({ unit: fc.constantFrom(...ALL_CHARS), maxLength: 16 }),
    ),
    confirm: fc.string({ maxLength: 10 }),
    identifiers: fc.array(fc.string({ unit: fc.constantFrom(...ALNUM, ' '), maxLength: 6 }), {
      maxLength: 4,
    }),
    mailbox: fc.string({ unit: fc.constantFrom(...ALNUM, '.'), maxLength: 10 }),
    minLength: fc.integer({ min: 0, max: 20 }),
  },
  { requiredKeys: ['password'] },
);

describe('checkPassword properties', () => {
  it('(a) an accepted password has >= 8 code points and upper, lower, digit and special characters', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALL_CHARS), maxLength: 14 }), (password) => {
        if (checkPassword({ password }).length > 0) return;
        accepted++;
        expect(Array.from(password).length).toBeGreaterThanOrEqual(8);
        expect(password).toMatch(/\p{Lu}/u);
        expect(password).toMatch(/\p{Ll}/u);
        expect(password).toMatch(/\p{Nd}/u);
        // Not a letter, number, mark, blank or invisible character.
        expect(password).toMatch(/[^\p{L}\p{N}\p{M}\p{Z}\p{C}]/u);
      }),
      { numRuns: 300 },
    );
    // Guard against a vacuous run where nothing was ever accepted.
    expect(accepted).toBeGreaterThan(0);
  });

  it('(b) a valid password with an identifier inserted gets contains_username', () => {
    fc.assert(
      fc.property(
        validBase,
        identifierPair,
        fc.nat(),
        fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
        (base, id, at, others) => {
          expect(checkPassword({ password: base })).toEqual([]);
          const password = insertAt(base, id.typed, at);
          expect(checkPassword({ password, identifiers: [...others, id.stored] })).toEqual([
            'contains_username',
          ]);
        },
      ),
    );
  });

  it('(c) is deterministic, returns no duplicates and keeps union order', () => {
    fc.assert(
      fc.property(anyCandidate, (candidate) => {
        const first = checkPassword(candidate);
        expect(checkPassword(structuredClone(candidate))).toEqual(first);
        expect(checkPassword(candidate)).toEqual(first);
        expect(new Set(first).size).toBe(first.length);
        const positions = first.map((code) => ORDER.indexOf(code));
        expect(positions.every((p) => p >= 0)).toBe(true);
        expect(positions).toEqual([...positions].sort((x, y) => x - y));
        expect(first).not.toContain('recently_used');
      }),
    );
  });

  it('(d) a password containing a 3-character slice of the mailbox gets contains_mailbox_part', () => {
    const mailboxName = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-'.split('')),
      minLength: 3,
      maxLength: 20,
    });
    fc.assert(
      fc.property(
        mailboxName.chain((mailbox) =>
          fc.record({
            mailbox: fc.constant(mailbox),
            start: fc.integer({ min: 0, max: mailbox.length - 3 }),
            upper: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          }),
        ),
        fc.string({ unit: 'grapheme', maxLength: 10 }),
        fc.string({ unit: 'grapheme', maxLength: 10 }),
        ({ mailbox, start, upper }, prefix, suffix) => {
          const slice = recase(Array.from(mailbox.slice(start, start + 3)), upper);
          const password = prefix + slice + suffix;
          expect(checkPassword({ password, mailbox })).toContain('contains_mailbox_part');
        },
      ),
    );
  });

  it('(e) violations do not depend on the order of the identifiers', () => {
    const identifier = fc.oneof(
      fc.string({ unit: fc.constantFrom(...ALNUM), maxLength: 6 }),
      fc.constantFrom('', '  ', 'ab'),
    );
    fc.assert(
      fc.property(
        fc.array(identifier, { maxLength: 6 }).chain((ids) =>
          fc.record({
            ids: fc.constant(ids),
            permuted: fc.shuffledSubarray(ids, { minLength: ids.length, maxLength: ids.length }),
            contained: fc.subarray(ids),
          }),
        ),
        validBase,
        ({ ids, permuted, contained }, base) => {
          const password = base + contained.join('').toUpperCase();
          expect(checkPassword({ password, identifiers: permuted })).toEqual(
            checkPassword({ password, identifiers: ids }),
          );
        },
      ),
    );
  });
});
