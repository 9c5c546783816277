import { audit } from '../activities/audit.js';
import { PasswordHasher, setPassword } from '../activities/credentials.js';
import { transaction } from '../activities/deps.js';
import { upsertSubject, type SubjectInput } from '../activities/subjects.js';
import { migrate } from '../db/migrate.js';
import { loadConfig } from '../runtime/config.js';
import { createPool, openDatabase } from '../runtime/database.js';
import { createLogger } from '../runtime/logger.js';

/** `npm run seed`: one demo subject of every kind, each with the first-access password of the README. */
export const demoSubjects: Array<SubjectInput & { password: string }> = [
  {
    kind: 'member', codiceFiscale: 'RSSMRA80A01H501U', matricola: '123456', firstName: 'Mario', lastName: 'Rossi', password: 'Primo#Accesso1',
    contacts: [
      { kind: 'email', value: 'mario.rossi@example.it', certified: true },
      { kind: 'pec', value: 'mario.rossi@geopec.it', certified: true },
      { kind: 'mobile', value: '+393331234567', certified: true },
    ],
  },
  {
    kind: 'beneficiary', codiceFiscale: 'BNCLCU75D45F205T', firstName: 'Lucia', lastName: 'Bianchi', password: 'Primo#Accesso2',
    contacts: [{ kind: 'email', value: 'lucia.bianchi@example.it', certified: true }],
  },
  {
    kind: 'adherent', codiceFiscale: 'VRDNNA90E50L219L', codiceAderente: 'AD000123', firstName: 'Anna', lastName: 'Verdi', password: 'Primo#Accesso3',
    contacts: [{ kind: 'mobile', value: '+393471234567', certified: true }],
  },
  {
    kind: 'member', codiceFiscale: 'GLLPLA62T12H501C', matricola: '654321', firstName: 'Paolo', lastName: 'Galli', password: 'Primo#Accesso4',
    contacts: [],
  },
  {
    kind: 'company', username: 'studioalfa', companyName: 'Studio Tecnico Alfa STP', vatNumber: '01234567890', password: 'Primo#Accesso5',
    contacts: [
      { kind: 'pec', value: 'studioalfa@geopec.it', certified: true },
      { kind: 'mobile', value: '+393351234567', certified: true },
    ],
  },
];

const config = loadConfig();
const logger = createLogger(config.logLevel);
const database = await openDatabase(config, logger);
const pool = createPool(database.url, 2);
await migrate(pool);
const hasher = new PasswordHasher(config.argon2);
for (const { password, ...subject } of demoSubjects) {
  const hash = await hasher.hash(password);
  await transaction(pool, async (client) => {
    const { id, created } = await upsertSubject(client, subject);
    await setPassword(client, id, hash, true);
    await audit(client, { subjectId: id, event: 'subject_provisioned', details: { created, kind: subject.kind, source: 'seed' } });
  });
  process.stdout.write(`${subject.kind.padEnd(12)} ${subject.username ?? subject.codiceFiscale}\n`);
}
await pool.end();
await database.stop();
