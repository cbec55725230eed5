// Password hashing for cabinet accounts: scrypt (node:crypto, no native addon) with a random salt per
// password, parameters stored with the hash so they can be raised later without breaking old hashes.
// N=2^15, r=8 costs ~32 MiB and ~60 ms on this machine's cores: slow enough against guessing, cheap
// enough for a login.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;

function scrypt(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, keyLen, opts, (e, key) => (e ? reject(e) : resolve(key))));
}

/** `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, { N, r: R, p: P, maxmem: 128 * N * R * 2 });
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    // Same work as a real check: whether an account exists is not told by the time it takes.
    await hashPassword(password);
    return false;
  }
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 128 * Number(n) * Number(r) * 2 });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** The rules a new password must meet; a Russian message when it does not. */
export function passwordProblem(password: string): string | null {
  if (password.length < 8) return 'Пароль должен быть не короче 8 символов.';
  if (password.length > 200) return 'Пароль слишком длинный (не больше 200 символов).';
  if (!/\p{L}/u.test(password) || !/\d/.test(password)) return 'Пароль должен содержать буквы и цифры.';
  return null;
}
