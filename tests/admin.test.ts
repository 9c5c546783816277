import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/http.js';
import { startTestStack, type TestStack } from './support/stack.js';
import { randomCodiceFiscale, randomMatricola, randomMobile } from './support/subjects.js';

let stack: TestStack;
let admin: Browser;
let auth: Record<string, string>;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  admin = new Browser(stack.url);
  auth = { authorization: `Bearer ${stack.secrets.adminToken}` };
});
afterAll(async () => {
  await stack?.stop();
});

const member = (overrides: Record<string, unknown> = {}) => ({
  kind: 'member',
  codiceFiscale: randomCodiceFiscale(),
  matricola: randomMatricola(),
  firstName: 'Mario',
  lastName: 'Rossi',
  contacts: [
    { kind: 'email', value: 'Mario.Rossi@Example.it', certified: true },
    { kind: 'mobile', value: randomMobile(), certified: false },
  ],
  ...overrides,
});

const count = async (sql: string, params: unknown[]) => Number((await stack.pool.query(sql, params)).rows[0].count);

describe('POST /api/admin/subjects', () => {
  it('refuses a missing or wrong token and writes nothing', async () => {
    const body = member();
    for (const headers of [{}, { authorization: 'Bearer sbagliato' }, { authorization: stack.secrets.adminToken }] as Record<string, string>[]) {
      const res = await admin.post('/api/admin/subjects', body, headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
    }
    expect(await count('select count(*) from subjects where codice_fiscale = $1', [body.codiceFiscale])).toBe(0);
  });

  it('creates a member with upper-case codice fiscale, lower-case e-mail, first-access password and an audit row; a second push updates it', async () => {
    const body = member({ initialPassword: 'Primo#Accesso1' });
    const created = await admin.post('/api/admin/subjects', { ...body, codiceFiscale: body.codiceFiscale.toLowerCase() }, auth);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const { rows } = await stack.pool.query('select s.codice_fiscale, c.must_change, c.hash from subjects s join credentials c on c.subject_id = s.id where s.id = $1', [created.body.id]);
    expect(rows[0]).toMatchObject({ codice_fiscale: body.codiceFiscale, must_change: true });
    expect(rows[0].hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const emails = await stack.pool.query(`select value from contacts where subject_id = $1 and kind = 'email'`, [created.body.id]);
    expect(emails.rows).toEqual([{ value: 'mario.rossi@example.it' }]);

    const updated = await admin.post(
      '/api/admin/subjects',
      { ...body, lastName: 'Bianchi', initialPassword: 'Altra#Password2', contacts: [{ ...body.contacts[0], certified: false }, body.contacts[1]] },
      auth,
    );
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    // A second push neither replaces the password nor takes a certification back.
    const after = await stack.pool.query('select c.hash from credentials c where c.subject_id = $1', [created.body.id]);
    expect(after.rows[0].hash).toBe(rows[0].hash);
    const certified = await stack.pool.query(`select certified from contacts where subject_id = $1 and kind = 'email'`, [created.body.id]);
    expect(certified.rows).toEqual([{ certified: true }]);
    expect(await count('select count(*) from contacts where subject_id = $1', [created.body.id])).toBe(2);
    expect(await count(`select count(*) from audit_events where subject_id = $1 and event = 'subject_provisioned'`, [created.body.id])).toBe(2);
    const audit = await stack.pool.query(`select details::text from audit_events where subject_id = $1`, [created.body.id]);
    expect(JSON.stringify(audit.rows)).not.toContain('Primo#Accesso1');
  });

  it('creates companies by username and adherents with their codice aderente', async () => {
    const username = `studio${Date.now()}`;
    const company = await admin.post('/api/admin/subjects', { kind: 'company', username, companyName: 'Studio Tecnico STP', vatNumber: '01234567890', contacts: [{ kind: 'pec', value: `${username}@geopec.it`, certified: true }] }, auth);
    expect(company.status).toBe(201);
    const again = await admin.post('/api/admin/subjects', { kind: 'company', username: username.toUpperCase(), companyName: 'Studio Tecnico STP srl', vatNumber: '01234567890' }, auth);
    expect(again.body.id).toBe(company.body.id);
    const adherent = await admin.post('/api/admin/subjects', { kind: 'adherent', codiceFiscale: randomCodiceFiscale(), codiceAderente: `AD${Date.now()}`, firstName: 'Anna', lastName: 'Verdi' }, auth);
    expect(adherent.status).toBe(201);
  });

  it.each([
    ['a codice fiscale with a wrong check character', { codiceFiscale: 'RSSMRA80A01H501V' }, 'codiceFiscale'],
    ['a mobile number that is not Italian E.164', { contacts: [{ kind: 'mobile', value: '3331234567' }] }, 'contacts.0.value'],
    ['a malformed e-mail', { contacts: [{ kind: 'email', value: 'non-una-mail' }] }, 'contacts.0.value'],
    ['an unknown kind', { kind: 'alien' }, 'kind'],
    ['a company without VAT number', { kind: 'company', username: 'studioxyz', companyName: 'X' }, 'vatNumber'],
  ])('answers 400 for %s and writes nothing', async (_what, overrides, field) => {
    const body = member(overrides);
    const res = await admin.post('/api/admin/subjects', body, auth);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', message: expect.any(String) });
    expect(res.body.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(await count('select count(*) from subjects where matricola = $1', [body.matricola])).toBe(0);
  });

  it.each([
    ['shaped like a codice fiscale', 'RSSMRA80A01H501U'],
    ['shaped like a codice fiscale with omocodia letters, in lower case', 'rssmra8la01h5m1u'],
    ['made of digits only, like a matricola', '123456'],
  ])('answers 400 for a company username %s, which login would confuse with another subject, and writes nothing', async (_what, username) => {
    const res = await admin.post('/api/admin/subjects', { kind: 'company', username, companyName: 'Studio Tecnico STP', vatNumber: '01234567890' }, auth);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', message: expect.any(String), fields: [{ field: 'username', problem: expect.any(String) }] });
    expect(await count('select count(*) from subjects where lower(username) = lower($1)', [username])).toBe(0);
  });

  it('answers 422 with every violation for an initial password that breaks the rules', async () => {
    const body = member({ initialPassword: 'corta' });
    const res = await admin.post('/api/admin/subjects', body, auth);
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('password_policy');
    expect(res.body.violations).toEqual(['too_short', 'no_upper', 'no_digit', 'no_special']);
    expect(await count('select count(*) from subjects where matricola = $1', [body.matricola])).toBe(0);
  });

  it('answers 409 when a matricola already belongs to someone else', async () => {
    const first = member();
    expect((await admin.post('/api/admin/subjects', first, auth)).status).toBe(201);
    const res = await admin.post('/api/admin/subjects', member({ matricola: first.matricola }), auth);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('identifier_taken');
  });

  it('answers 400, not 500, to text Postgres cannot store, here and at login', async () => {
    const res = await admin.post('/api/admin/subjects', member({ firstName: 'Ma\u0000rio' }), auth);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    const login = await new Browser(stack.url).post('/api/session', { username: 'RSSMRA80A01H501U\u0000', password: 'Qualsiasi#1' });
    expect(login.status).toBe(400);
  });

  it('answers malformed JSON and oversized bodies with a JSON 4xx', async () => {
    const bad = await admin.request('POST', '/api/admin/subjects', '{"kind":', { ...auth, 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    const huge = await admin.post('/api/admin/subjects', member({ firstName: 'x'.repeat(64 * 1024) }), auth);
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('payload_too_large');
  });
});
