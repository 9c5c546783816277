import { expect } from 'vitest';
import { Browser } from './http.js';
import type { TestStack } from './stack.js';
import type { TestMember } from './subjects.js';

export const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1];
export const passwordIn = (text: string) => /Password di primo accesso: (\S+)/.exec(text)?.[1];
/** A code that is not this one: a wrong guess. */
export const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/** The first-access password that reached this recipient. */
export async function firstAccessPasswordTo(stack: TestStack, recipient: string): Promise<string> {
  return passwordIn((await stack.captures!.waitFor(recipient, (m) => passwordIn(m.text) !== undefined)).text)!;
}

/** A member logs in, starts registration and chooses SMS: the browser, the mobile's contact id and the code that arrived. */
export async function smsCodeSent(stack: TestStack, member: TestMember): Promise<{ browser: Browser; mobileId: string; code: string }> {
  const browser = new Browser(stack.url);
  expect((await browser.post('/api/session', { username: member.matricola, password: member.password })).status).toBe(200);
  const started = await browser.post('/api/registration');
  const mobile = started.body.view.contacts.find((c: { kind: string }) => c.kind === 'mobile');
  expect((await browser.post('/api/registration/channel', { channel: 'sms', contactId: mobile.id })).status).toBe(200);
  const code = codeIn((await stack.captures!.waitFor(member.mobile, (m) => codeIn(m.text) !== undefined)).text)!;
  return { browser, mobileId: mobile.id, code };
}
