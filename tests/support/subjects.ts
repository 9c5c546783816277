import { randomInt } from 'node:crypto';
import { checkCharacter } from '../../machines/rules/codiceFiscale.js';
import type { TestStack } from './stack.js';
import { Browser } from './http.js';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const letter = () => LETTERS[randomInt(26)];
const digits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');

/** A random, valid codice fiscale: every test works on subjects nobody else touches. */
export function randomCodiceFiscale(): string {
  const first15 = `${letter()}${letter()}${letter()}${letter()}${letter()}${letter()}${digits(2)}${letter()}${digits(2)}${letter()}${digits(3)}`;
  return first15 + checkCharacter(first15);
}

export const randomMobile = () => `+3933${digits(8)}`;
export const randomMatricola = () => String(randomInt(100_000, 9_999_999));

export interface TestMember {
  id: string;
  codiceFiscale: string;
  matricola: string;
  email: string;
  pec: string;
  mobile: string;
  password: string;
}

/** Provisions a member through the admin API, as the fund's registry would. */
export async function provisionMember(stack: TestStack, overrides: Record<string, unknown> = {}): Promise<TestMember> {
  const codiceFiscale = randomCodiceFiscale();
  const matricola = randomMatricola();
  const tag = codiceFiscale.toLowerCase();
  const member = {
    codiceFiscale,
    matricola,
    email: `${tag}@example.it`,
    pec: `${tag}@geopec.it`,
    mobile: randomMobile(),
    password: 'Primo#Accesso1',
  };
  const admin = new Browser(stack.url);
  const res = await admin.post(
    '/api/admin/subjects',
    {
      kind: 'member',
      codiceFiscale,
      matricola,
      firstName: 'Mario',
      lastName: 'Rossi',
      contacts: [
        { kind: 'email', value: member.email, certified: true },
        { kind: 'pec', value: member.pec, certified: true },
        { kind: 'mobile', value: member.mobile, certified: true },
      ],
      initialPassword: member.password,
      ...overrides,
    },
    { authorization: `Bearer ${stack.secrets.adminToken}` },
  );
  if (res.status !== 201) throw new Error(`provisioning failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, ...member };
}
