/** Every message varco sends, in Italian, plain text: an SMS has no room for more. */
export interface Message {
  subject: string;
  text: string;
}

const signature = '\n\nCassa Geometri — Area Riservata\nQuesto è un messaggio automatico: non rispondere.';

export const templates = {
  registrationCode: (code: string, minutes: number): Message => ({
    subject: 'Codice OTP per la registrazione del canale sicuro',
    text: `Il tuo codice OTP è ${code}. È valido ${minutes} minuti. Non comunicarlo a nessuno.`,
  }),
  firstAccessPassword: (password: string): Message => ({
    subject: 'Registrazione completata: password di primo accesso',
    text:
      `Registrazione completata. Password di primo accesso: ${password}\n` +
      `Accedi all'Area Riservata: ti sarà chiesto di sostituirla.`,
  }),
  pin: (pin: string): Message => ({
    subject: 'Nuovo PIN dispositivo',
    text: `Il tuo nuovo PIN dispositivo è ${pin}. Serve ad autorizzare le disposizioni online: custodiscilo con cura.`,
  }),
  passwordExpiring: (expiresOn: string): Message => ({
    subject: 'La tua password sta per scadere',
    text:
      `La password dell'Area Riservata scade il ${expiresOn}. Aggiornala da "Gestione account" prima di quella data: ` +
      `dopo la scadenza ti sarà chiesto di cambiarla al primo accesso.${signature}`,
  }),
};

export function withSignature(message: Message, channel: 'email' | 'sms'): Message {
  return channel === 'email' && !message.text.endsWith(signature) ? { ...message, text: message.text + signature } : message;
}
