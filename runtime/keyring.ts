import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface Key {
  id: string;
  bytes: Buffer;
}

/** AES-256-GCM with rotatable keys: the first key seals, every key opens what it sealed. */
export class Keyring {
  readonly active: Key;
  private readonly byId: Map<string, Key>;

  constructor(keys: Key[]) {
    const [active] = keys;
    if (!active) throw new Error('keyring: almeno una chiave è necessaria');
    for (const key of keys) {
      if (key.bytes.length !== 32) throw new Error(`keyring: la chiave "${key.id}" deve essere di 32 byte`);
    }
    this.active = active;
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  /** "id1:base64,id2:base64" — the first one seals. */
  static parse(text: string): Keyring {
    return new Keyring(
      text.split(',').map((entry) => {
        const [id, b64] = entry.trim().split(':');
        if (!id || !b64) throw new Error('PAYLOAD_KEYS: formato atteso "id:chiaveBase64[,id:chiaveBase64]"');
        return { id, bytes: Buffer.from(b64, 'base64') };
      }),
    );
  }

  static generateEntry(id = `k${Date.now().toString(36)}`): string {
    return `${id}:${randomBytes(32).toString('base64')}`;
  }

  /** iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes); the key id travels beside it. */
  seal(plain: Uint8Array, aad?: string): { keyId: string; data: Buffer } {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.active.bytes, iv);
    if (aad) cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return { keyId: this.active.id, data: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  open(keyId: string, data: Uint8Array, aad?: string): Buffer {
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`keyring: chiave sconosciuta "${keyId}"`);
    const buf = Buffer.from(data);
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, buf.subarray(0, 12));
    if (aad) decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(buf.subarray(buf.length - 16));
    return Buffer.concat([decipher.update(buf.subarray(12, buf.length - 16)), decipher.final()]);
  }

  /** Text form for database columns: "keyId.base64". */
  sealText(plain: string, aad?: string): string {
    const { keyId, data } = this.seal(Buffer.from(plain, 'utf8'), aad);
    return `${keyId}.${data.toString('base64')}`;
  }

  openText(sealed: string, aad?: string): string {
    const dot = sealed.indexOf('.');
    return this.open(sealed.slice(0, dot), Buffer.from(sealed.slice(dot + 1), 'base64'), aad).toString('utf8');
  }
}
