/**
 * Password rules of the Area Riservata. Every process (first access, reset,
 * change, PEC migration) validates through this module, so the rules live
 * in one place. Pure: no I/O, no Node built-ins.
 */

export type PasswordViolation =
  | 'too_short'
  | 'no_upper'
  | 'no_lower'
  | 'no_digit'
  | 'no_special'
  | 'contains_username'
  | 'recently_used'
  | 'confirmation_mismatch'
  | 'contains_mailbox_part'
  | 'repeated_characters';

/** How many previous passwords a new one must differ from (checked by the credentials store). */
export const PASSWORD_HISTORY_DEPTH = 5;

const DEFAULT_MIN_LENGTH = 8;

/** Identifiers shorter than this are ignored: forbidding e.g. "ab" would reject too many passwords. */
const MIN_IDENTIFIER_LENGTH = 3;

/** Shortest slice of the PEC mailbox name that the password may not contain. */
const MAILBOX_SLICE_LENGTH = 3;

export const violationMessages: Record<PasswordViolation, string> = {
  too_short: `La password deve contenere almeno ${DEFAULT_MIN_LENGTH} caratteri.`,
  no_upper: 'La password deve contenere almeno una lettera maiuscola.',
  no_lower: 'La password deve contenere almeno una lettera minuscola.',
  no_digit: 'La password deve contenere almeno un numero.',
  no_special:
    'La password deve contenere almeno un carattere speciale (ad esempio ! ? @ # $ % &). Gli spazi non sono considerati caratteri speciali.',
  contains_username:
    'La password non può contenere i tuoi dati identificativi (nome utente, matricola, codice fiscale).',
  recently_used: `La password non può essere uguale a una delle ultime ${PASSWORD_HISTORY_DEPTH} utilizzate.`,
  confirmation_mismatch: 'La password e la conferma non coincidono.',
  contains_mailbox_part:
    'La password non può contenere parti del nome della casella PEC (3 o più caratteri consecutivi).',
  repeated_characters:
    'La password non può contenere lo stesso carattere ripetuto più di due volte di seguito.',
};

export interface PasswordCandidate {
  password: string;
  /** Second entry of the form; compared exactly when present. */
  confirm?: string;
  /** Username, matricola, codice fiscale… Blank or shorter than 3 characters (after trimming) are ignored. */
  identifiers?: string[];
  /** PEC mailbox name, the part before @geopec.it. When present the PEC provider's rules apply too. */
  mailbox?: string;
  /** Minimum length in Unicode code points; defaults to 8. */
  minLength?: number;
}

/** Code points, not UTF-16 units: "è" or an emoji counts as one character. */
const codePoints = (s: string): string[] => Array.from(s);

/**
 * Case folding for the "must not contain" rules. Done per code point, upper
 * then lower, so ß/SS and ς/σ/Σ compare equal and the fold of a slice is
 * always a slice of the fold (a contained identifier is never missed).
 */
const fold = (s: string): string => codePoints(s).map((ch) => ch.toUpperCase().toLowerCase()).join('');

const isLongEnough = (c: PasswordCandidate): boolean =>
  codePoints(c.password).length >= (c.minLength ?? DEFAULT_MIN_LENGTH);

// Unicode-aware so accented capitals ("È") count; titlecase and caseless letters (e.g. CJK) count as neither.
const hasUpper = (c: PasswordCandidate): boolean => /\p{Lu}/u.test(c.password);
const hasLower = (c: PasswordCandidate): boolean => /\p{Ll}/u.test(c.password);

// Any decimal digit, not only 0-9.
const hasDigit = (c: PasswordCandidate): boolean => /\p{Nd}/u.test(c.password);

// Special = punctuation or symbol. Letters, numbers, combining marks, spaces
// (including NBSP) and invisible/control characters do not count: a trailing
// space or a zero-width character must not satisfy the rule.
const hasSpecial = (c: PasswordCandidate): boolean => /[\p{P}\p{S}]/u.test(c.password);

const avoidsIdentifiers = (c: PasswordCandidate): boolean => {
  const password = fold(c.password);
  return (c.identifiers ?? [])
    .map((id) => id.trim())
    .filter((id) => codePoints(id).length >= MIN_IDENTIFIER_LENGTH)
    .every((id) => !password.includes(fold(id)));
};

const confirmationMatches = (c: PasswordCandidate): boolean =>
  c.confirm === undefined || c.confirm === c.password;

// Every longer slice contains a 3-character one, so checking those suffices.
const avoidsMailboxParts = (c: PasswordCandidate): boolean => {
  if (c.mailbox === undefined) return true;
  const password = fold(c.password);
  const mailbox = codePoints(fold(c.mailbox));
  for (let i = 0; i + MAILBOX_SLICE_LENGTH <= mailbox.length; i++) {
    if (password.includes(mailbox.slice(i, i + MAILBOX_SLICE_LENGTH).join(''))) return false;
  }
  return true;
};

// PEC provider's rule, so only when a mailbox is given. Exact characters: "aAa" is allowed.
const avoidsTripleRepeats = (c: PasswordCandidate): boolean =>
  c.mailbox === undefined || !/(.)\1\1/su.test(c.password);

/**
 * Every rule at a glance: violation code -> predicate that holds when the
 * candidate complies. The key order is the order of PasswordViolation and is
 * the order in which violations are reported.
 */
const rules: Record<PasswordViolation, ((c: PasswordCandidate) => boolean) | null> = {
  too_short: isLongEnough,
  no_upper: hasUpper,
  no_lower: hasLower,
  no_digit: hasDigit,
  no_special: hasSpecial,
  contains_username: avoidsIdentifiers,
  // Needs the hashes of the last PASSWORD_HISTORY_DEPTH passwords: only the credentials store can check it.
  recently_used: null,
  confirmation_mismatch: confirmationMatches,
  contains_mailbox_part: avoidsMailboxParts,
  repeated_characters: avoidsTripleRepeats,
};

const violationOrder = Object.keys(rules) as PasswordViolation[];

/** Runs every rule and returns all violations, in PasswordViolation order, without duplicates. */
export function checkPassword(c: PasswordCandidate): PasswordViolation[] {
  return violationOrder.filter((code) => rules[code]?.(c) === false);
}

/**
 * Messages for the end user. Also dedupes and sorts the codes, so results
 * can be merged (e.g. checkPassword plus the store's 'recently_used').
 */
export function describeViolations(v: PasswordViolation[]): {
  violations: PasswordViolation[];
  messages: string[];
} {
  const violations = violationOrder.filter((code) => v.includes(code));
  return { violations, messages: violations.map((code) => violationMessages[code]) };
}
