import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import { Keyring } from './keyring.js';

export interface Secrets {
  /** seals workflow payloads and sealed database columns */
  keyring: Keyring;
  /** keyed hash of one-time codes, tokens and CSRF values: sha256 would let a 6-digit code be brute-forced */
  mac(purpose: string, value: string): string;
  adminToken: string;
  codecToken: string;
}

interface DevSecretsFile {
  payloadKeys: string;
  secretKey: string;
  adminToken: string;
  codecToken: string;
}

/**
 * Production reads every secret from the environment. Elsewhere a missing one is generated
 * once into the data folder, so a restart keeps decrypting old histories and old sessions.
 */
export function loadSecrets(config: Config): Secrets {
  const fromEnv = config.secrets;
  let file: DevSecretsFile | undefined;
  if (config.env !== 'production') {
    const filePath = path.join(config.dataDir, 'secrets.json');
    if (fs.existsSync(filePath)) {
      file = JSON.parse(fs.readFileSync(filePath, 'utf8')) as DevSecretsFile;
    } else {
      file = {
        payloadKeys: Keyring.generateEntry('dev1'),
        secretKey: randomBytes(32).toString('base64'),
        adminToken: randomBytes(24).toString('base64url'),
        codecToken: randomBytes(24).toString('base64url'),
      };
      fs.mkdirSync(config.dataDir, { recursive: true });
      fs.writeFileSync(filePath, JSON.stringify(file, null, 2), { mode: 0o600 });
    }
  }
  const pick = (name: keyof DevSecretsFile, envName: string, value?: string): string => {
    const chosen = value ?? file?.[name];
    if (!chosen) throw new Error(`${envName} è obbligatoria in produzione`);
    return chosen;
  };
  const rootKey = Buffer.from(pick('secretKey', 'SECRET_KEY', fromEnv.secretKey), 'base64');
  const macKeys = new Map<string, Buffer>();
  const macKey = (purpose: string): Buffer => {
    let key = macKeys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), `varco:${purpose}`, 32));
      macKeys.set(purpose, key);
    }
    return key;
  };
  return {
    keyring: Keyring.parse(pick('payloadKeys', 'PAYLOAD_KEYS', fromEnv.payloadKeys)),
    mac: (purpose, value) => createHmac('sha256', macKey(purpose)).update(value).digest('base64url'),
    adminToken: pick('adminToken', 'ADMIN_TOKEN', fromEnv.adminToken),
    codecToken: pick('codecToken', 'CODEC_TOKEN', fromEnv.codecToken),
  };
}
