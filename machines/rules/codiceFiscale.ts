/** The 16-character Italian tax code, with its check character (omocodia letters allowed). */
export const CODICE_FISCALE_SHAPE = /^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/;

// Values of a character in an odd (1st, 3rd, …) position, digits and letters alike.
const ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

function oddValue(ch: string): number {
  const index = /\d/.test(ch) ? Number(ch) : ch.charCodeAt(0) - 65;
  return ODD[index] as number;
}

function evenValue(ch: string): number {
  return /\d/.test(ch) ? Number(ch) : ch.charCodeAt(0) - 65;
}

export function checkCharacter(first15: string): string {
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const ch = first15[i] as string;
    sum += i % 2 === 0 ? oddValue(ch) : evenValue(ch);
  }
  return String.fromCharCode(65 + (sum % 26));
}

export function normalizeCodiceFiscale(value: string): string {
  return value.trim().toUpperCase();
}

export function isValidCodiceFiscale(value: string): boolean {
  const cf = normalizeCodiceFiscale(value);
  return CODICE_FISCALE_SHAPE.test(cf) && checkCharacter(cf.slice(0, 15)) === cf[15];
}
