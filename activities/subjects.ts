import type pg from 'pg';

export type SubjectKind = 'member' | 'beneficiary' | 'company' | 'adherent';
export type ContactKind = 'email' | 'pec' | 'mobile';

export interface ContactInput {
  kind: ContactKind;
  value: string;
  certified: boolean;
}

export interface SubjectInput {
  kind: SubjectKind;
  codiceFiscale?: string;
  matricola?: string;
  username?: string;
  codiceAderente?: string;
  firstName?: string;
  lastName?: string;
  companyName?: string;
  vatNumber?: string;
  contacts: ContactInput[];
}

export interface Contact {
  id: string;
  kind: ContactKind;
  value: string;
  certified: boolean;
}

export interface MaskedContact {
  id: string;
  kind: ContactKind;
  masked: string;
  certified: boolean;
}

export interface Subject {
  id: string;
  kind: SubjectKind;
  codiceFiscale: string | null;
  matricola: string | null;
  username: string | null;
  displayName: string;
}

/** "mario.rossi@example.it" → "ma*******@example.it"; "+393331234567" → "+39 *** **** 567". */
export function maskContact(kind: ContactKind, value: string): string {
  if (kind === 'mobile') return `${value.slice(0, 3)} *** **** ${value.slice(-3)}`;
  const [local = '', domain = ''] = value.split('@');
  return `${local.slice(0, 2)}${'*'.repeat(Math.max(local.length - 2, 3))}@${domain}`;
}

export function masked(contact: Contact): MaskedContact {
  return { id: contact.id, kind: contact.kind, masked: maskContact(contact.kind, contact.value), certified: contact.certified };
}

/**
 * Creates or updates a subject as the fund's registry pushes it: matched by codice fiscale,
 * or by username for companies. Contacts are merged: a value already known keeps its id,
 * and a certification (by the fund or by a one-time code) is never taken back by a push.
 */
export async function upsertSubject(client: pg.PoolClient, s: SubjectInput): Promise<{ id: string; created: boolean }> {
  const match =
    s.kind === 'company'
      ? await client.query<{ id: string }>('select id from subjects where lower(username) = lower($1)', [s.username])
      : await client.query<{ id: string }>('select id from subjects where codice_fiscale = $1', [s.codiceFiscale]);
  const values = [s.kind, s.codiceFiscale ?? null, s.matricola ?? null, s.username ?? null, s.codiceAderente ?? null, s.firstName ?? null, s.lastName ?? null, s.companyName ?? null, s.vatNumber ?? null];
  let id = match.rows[0]?.id;
  const created = !id;
  if (id) {
    await client.query(
      `update subjects set kind = $2, codice_fiscale = $3, matricola = $4, username = $5, codice_aderente = $6,
         first_name = $7, last_name = $8, company_name = $9, vat_number = $10, updated_at = now() where id = $1`,
      [id, ...values],
    );
  } else {
    const inserted = await client.query<{ id: string }>(
      `insert into subjects (kind, codice_fiscale, matricola, username, codice_aderente, first_name, last_name, company_name, vat_number)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
      values,
    );
    id = inserted.rows[0]!.id;
  }
  for (const c of s.contacts) {
    await client.query(
      `insert into contacts (subject_id, kind, value, certified, certified_at) values ($1, $2, $3, $4, case when $4 then now() end)
       on conflict (subject_id, kind, value) do update set certified = contacts.certified or excluded.certified,
         certified_at = case when contacts.certified or excluded.certified then coalesce(contacts.certified_at, now()) end`,
      [id, c.kind, c.value, c.certified],
    );
  }
  return { id, created };
}

/** The name shown to a subject and to reviewers: the company's, or first and last name (SQL over a subjects row s). */
export const DISPLAY_NAME = `coalesce(s.company_name, trim(coalesce(s.first_name, '') || ' ' || coalesce(s.last_name, '')))`;

const subjectColumns = `s.id, s.kind, s.codice_fiscale as "codiceFiscale", s.matricola, s.username, ${DISPLAY_NAME} as "displayName"`;

export async function findSubject(db: pg.Pool | pg.PoolClient, id: string): Promise<Subject | undefined> {
  const { rows } = await db.query<Subject>(`select ${subjectColumns} from subjects s where s.id = $1`, [id]);
  return rows[0];
}

export async function listContacts(db: pg.Pool | pg.PoolClient, subjectId: string): Promise<Contact[]> {
  const { rows } = await db.query<Contact>('select id, kind, value, certified from contacts where subject_id = $1 order by kind, created_at', [subjectId]);
  return rows;
}
