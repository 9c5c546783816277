import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../runtime/temporal.js';
import { Browser } from './support/http.js';
import { startTestStack, type TestStack } from './support/stack.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'varco-seed-'));
let stack: TestStack | undefined;
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const seed = () =>
  new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/seed.ts'], {
      cwd: projectRoot,
      env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    child.once('exit', resolve);
  });

describe('npm run seed', () => {
  it('loads one demo subject of every kind, idempotently, each able to log in with the README’s first-access password', async () => {
    expect(await seed()).toBe(0);
    expect(await seed()).toBe(0);
    stack = await startTestStack({}, { worker: false });
    const { rows } = await stack.pool.query(
      `select kind, count(*)::int as n from subjects
       where codice_fiscale in ('RSSMRA80A01H501U', 'BNCLCU75D45F205T', 'VRDNNA90E50L219L', 'GLLPLA62T12H501C') or username = 'studioalfa'
       group by kind order by kind`,
    );
    expect(rows).toEqual([
      { kind: 'adherent', n: 1 },
      { kind: 'beneficiary', n: 1 },
      { kind: 'company', n: 1 },
      { kind: 'member', n: 2 },
    ]);
    for (const [username, password] of [['123456', 'Primo#Accesso1'], ['bnclcu75d45f205t', 'Primo#Accesso2'], ['studioalfa', 'Primo#Accesso5']]) {
      const res = await new Browser(stack.url).post('/api/session', { username, password });
      expect(res.status, username).toBe(200);
      expect(res.body.requiredActions).toEqual(['change_password', 'register_secure_channel']);
    }
  });
});
