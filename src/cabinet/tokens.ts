// Random secrets for the cabinet (session ids, invitation and reset tokens): 32 random bytes as
// base64url; only their sha256 is stored, so a copy of the database opens nothing.
import { createHash, randomBytes } from 'node:crypto';

export const newSecret = (): string => randomBytes(32).toString('base64url');
export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
