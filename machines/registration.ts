import { assign, emit, fromPromise, not, setup } from 'xstate';
import { timingSafeEqualText } from './rules/constantTime.js';
import type { Outcome, ProcessDefinition, Stamped } from './process.js';

/**
 * P1, registration of the secure channel (seed 001, REGISTRAZIONE AI SERVIZI ONLINE):
 * the user picks EMAIL or SMS among the contacts already in the registry, receives a
 * one-time code valid 5 minutes, may ask for a new one only once it has expired, and with
 * the right code registers the channel; a new first-access password then goes out on it.
 */

export type SecureChannel = 'email' | 'sms';

export interface RegistrationSettings {
  otpTtlMs: number;
  otpMaxAttempts: number;
  idleMs: number;
}

/** A registry contact as the process may show it: the value is masked, the id picks it. */
export interface OfferedContact {
  id: string;
  kind: 'email' | 'pec' | 'mobile';
  masked: string;
}

export interface RegistrationInput {
  subjectId: string;
  codiceFiscale: string | null;
  contacts: OfferedContact[];
  settings: RegistrationSettings;
}

export type RegistrationEvent = Stamped<
  | { type: 'channel.choose'; channel: SecureChannel; contactId: string }
  | { type: 'code.submit'; codeHash: string }
  | { type: 'code.regenerate' }
>;

export interface SendCodeInput {
  subjectId: string;
  channel: SecureChannel;
  contactId: string;
  /** one per code sent: a retried send reuses it and sends nothing new */
  issue: number;
  /** what the message tells the user: this process's own code life */
  validForMs: number;
}

interface Context {
  subjectId: string;
  codiceFiscale: string | null;
  contacts: OfferedContact[];
  settings: RegistrationSettings;
  channel?: SecureChannel;
  contactId?: string;
  codeHash?: string;
  codeRequestedAt?: number;
  codesIssued: number;
  attemptsLeft: number;
}

/** Which kinds of contact can carry which channel: an e-mail code may go to the e-mail or the PEC. */
export const CONTACT_KINDS: Record<SecureChannel, readonly OfferedContact['kind'][]> = { sms: ['mobile'], email: ['email', 'pec'] };
const carries = (channel: SecureChannel, contact: OfferedContact) => CONTACT_KINDS[channel].includes(contact.kind);

export const registrationMachine = setup({
  types: {
    input: {} as RegistrationInput,
    context: {} as Context,
    events: {} as RegistrationEvent,
    emitted: {} as { type: 'outcome' } & Outcome,
  },
  actors: {
    // Implemented by the host as activities; the machine only names them.
    sendCode: fromPromise<{ codeHash: string }, SendCodeInput>(async () => {
      throw new Error('sendCode is provided by the host');
    }),
    registerChannel: fromPromise<void, { subjectId: string; channel: SecureChannel; contactId: string }>(async () => {
      throw new Error('registerChannel is provided by the host');
    }),
  },
  actions: {
    reportOutcome: emit((_, outcome: Outcome) => ({ type: 'outcome' as const, ...outcome })),
    rememberChoice: assign(({ event }) =>
      event.type === 'channel.choose' ? { channel: event.channel, contactId: event.contactId, codeRequestedAt: event.at } : {},
    ),
    restartCodeClock: assign({ codeRequestedAt: ({ event }) => event.at }),
    forgetOldCode: assign({ codeHash: undefined, codesIssued: ({ context }) => context.codesIssued + 1 }),
    spendAttempt: assign({ attemptsLeft: ({ context }) => context.attemptsLeft - 1 }),
    reportStillValid: emit(({ context, event }) => ({
      type: 'outcome' as const,
      code: 'otp_still_valid',
      retryAfter: Math.max(1, Math.ceil(((context.codeRequestedAt ?? event.at) + context.settings.otpTtlMs - event.at) / 1000)),
    })),
  },
  guards: {
    contactOffered: ({ context, event }) =>
      event.type === 'channel.choose' && context.contacts.some((c) => c.id === event.contactId && carries(event.channel, c)),
    codeMatches: ({ context, event }) =>
      event.type === 'code.submit' && typeof event.codeHash === 'string' && context.codeHash !== undefined && timingSafeEqualText(event.codeHash, context.codeHash),
    attemptsRemainAfterThisOne: ({ context }) => context.attemptsLeft > 1,
    // The timer ends the code's life too; this holds for a step that arrives with it.
    codeStillValid: ({ context, event }) => context.codeRequestedAt !== undefined && event.at < context.codeRequestedAt + context.settings.otpTtlMs,
  },
  delays: {
    codeLifetime: ({ context }) => context.settings.otpTtlMs,
    idleLimit: ({ context }) => context.settings.idleMs,
  },
}).createMachine({
  id: 'registration',
  context: ({ input }) => ({
    subjectId: input.subjectId,
    codiceFiscale: input.codiceFiscale,
    contacts: input.contacts,
    settings: input.settings,
    codesIssued: 0,
    attemptsLeft: input.settings.otpMaxAttempts,
  }),
  initial: 'choosingChannel',
  states: {
    choosingChannel: {
      after: { idleLimit: 'abandoned' },
      on: {
        'channel.choose': [
          { guard: 'contactOffered', target: 'codeIssued', actions: 'rememberChoice' },
          { actions: { type: 'reportOutcome', params: { code: 'contact_not_offered' } } },
        ],
      },
    },
    // The code's 5 minutes run "dalla data della richiesta": the timer starts with the request, not the delivery.
    codeIssued: {
      entry: 'forgetOldCode',
      after: { codeLifetime: 'codeExpired' },
      on: {
        'code.regenerate': [
          { guard: 'codeStillValid', actions: 'reportStillValid' },
          { target: 'codeIssued', reenter: true, actions: 'restartCodeClock' },
        ],
      },
      initial: 'sendingCode',
      states: {
        sendingCode: {
          invoke: {
            id: 'sendCode',
            src: 'sendCode',
            input: ({ context }) => ({
              subjectId: context.subjectId,
              channel: context.channel!,
              contactId: context.contactId!,
              issue: context.codesIssued,
              validForMs: context.settings.otpTtlMs,
            }),
            onDone: {
              target: 'awaitingCode',
              actions: assign({ codeHash: ({ event }) => event.output.codeHash }),
            },
            onError: {
              target: '#registration.choosingChannel',
              actions: { type: 'reportOutcome', params: { code: 'delivery_failed' } },
            },
          },
        },
        awaitingCode: {
          on: {
            'code.submit': [
              { guard: not('codeStillValid'), target: '#registration.codeExpired', actions: { type: 'reportOutcome', params: { code: 'otp_expired' } } },
              { guard: 'codeMatches', target: '#registration.registering' },
              {
                guard: 'attemptsRemainAfterThisOne',
                actions: [
                  'spendAttempt',
                  { type: 'reportOutcome', params: ({ context }) => ({ code: 'otp_invalid', attemptsLeft: context.attemptsLeft }) },
                ],
              },
              {
                target: '#registration.lockedOut',
                actions: ['spendAttempt', { type: 'reportOutcome', params: { code: 'too_many_attempts' } }],
              },
            ],
          },
        },
      },
    },
    codeExpired: {
      after: { idleLimit: 'abandoned' },
      on: {
        'code.submit': { actions: { type: 'reportOutcome', params: { code: 'otp_expired' } } },
        'code.regenerate': { target: 'codeIssued', actions: 'restartCodeClock' },
      },
    },
    registering: {
      invoke: {
        id: 'registerChannel',
        src: 'registerChannel',
        input: ({ context }) => ({ subjectId: context.subjectId, channel: context.channel!, contactId: context.contactId! }),
        onDone: { target: 'registered', actions: { type: 'reportOutcome', params: { code: 'registered' } } },
        // Nothing was registered (the effect runs in one transaction): the user may try again.
        onError: { target: 'choosingChannel', actions: { type: 'reportOutcome', params: { code: 'registration_failed' } } },
      },
    },
    registered: { type: 'final' },
    abandoned: { type: 'final' },
    lockedOut: { type: 'final' },
  },
});

type Snapshot = ReturnType<typeof registrationMachine.transition>;

/** The public face of the process: never a code, a hash or a whole contact. */
function view(snapshot: Snapshot) {
  const { context } = snapshot;
  const codeExpiresAt =
    snapshot.matches('codeIssued') && context.codeRequestedAt !== undefined ? context.codeRequestedAt + context.settings.otpTtlMs : undefined;
  return {
    contacts: context.contacts.map(({ id, kind, masked }) => ({ id, kind, masked })),
    channel: context.channel ?? null,
    contactId: context.contactId ?? null,
    attemptsLeft: context.attemptsLeft,
    codeExpiresAt: codeExpiresAt === undefined ? null : new Date(codeExpiresAt).toISOString(),
  };
}

export const registration: ProcessDefinition<typeof registrationMachine> = {
  machine: registrationMachine,
  steps: ['channel.choose', 'code.submit', 'code.regenerate'],
  view,
  searchKey: (input) => input.codiceFiscale,
};
