import { randomInt } from 'node:crypto';
import { checkCharacter } from '../../machines/rules/codiceFiscale.js';
import type { Stack } from '../../runtime/stack.js';
import { runConcurrent } from './stats.js';
import { Browser, expectStatus } from './http.js';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Unique subjects for one run: a random prefix plus a counter keeps codici fiscali, matricole
 * and mobiles distinct without relying on luck.
 */
let counter = 0;
const runLetters = Array.from({ length: 3 }, () => LETTERS[randomInt(26)]).join('');
const runDigits = randomInt(10, 99);

function nextCodiceFiscale(n: number): string {
  // 3 random letters + 3 letters from the counter (26^3 subjects per run), then birth data.
  const a = LETTERS[Math.floor(n / 676) % 26]!;
  const b = LETTERS[Math.floor(n / 26) % 26]!;
  const c = LETTERS[n % 26]!;
  const first15 = `${runLetters}${a}${b}${c}${String(runDigits).padStart(2, '0')}A01H501`;
  return first15 + checkCharacter(first15);
}

export interface BenchMember {
  id: string;
  codiceFiscale: string;
  matricola: string;
  email: string;
  mobile: string;
  password: string;
}

export const MEMBER_PASSWORD = 'Primo#Accesso1';

/** Provisions one member with an e-mail and a mobile, through the admin API as the registry would. */
export async function provisionMember(stack: Stack): Promise<BenchMember> {
  const n = counter++;
  const codiceFiscale = nextCodiceFiscale(n);
  const tag = codiceFiscale.toLowerCase();
  const member = {
    codiceFiscale,
    matricola: String(1_000_000 + runDigits * 10_000 + n),
    email: `${tag}@example.it`,
    mobile: `+39333${String(runDigits).padStart(2, '0')}${String(n).padStart(5, '0')}`,
    password: MEMBER_PASSWORD,
  };
  const admin = new Browser(stack.url);
  const res = await admin.post(
    '/api/admin/subjects',
    {
      kind: 'member',
      codiceFiscale,
      matricola: member.matricola,
      firstName: 'Mario',
      lastName: 'Rossi',
      contacts: [
        { kind: 'email', value: member.email, certified: true },
        { kind: 'mobile', value: member.mobile, certified: true },
      ],
      initialPassword: member.password,
    },
    { authorization: `Bearer ${stack.secrets.adminToken}` },
  );
  expectStatus(res, 201, 'provisioning');
  return { id: (res.body as { id: string }).id, ...member };
}

/** Provisions `count` members, a few at a time (each costs one argon2id hash). */
export async function provisionMembers(stack: Stack, count: number): Promise<BenchMember[]> {
  const { results } = await runConcurrent(count, 4, () => provisionMember(stack));
  return results;
}
