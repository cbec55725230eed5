// Russian company requisites with their check digits (INN, OGRN/OGRNIP) and formats (KPP, BIK,
// bank accounts). Canonical schemas use them through the `requisite` keyword, so a flow rejects a
// mistyped INN with the rule instead of storing a counterparty 1C would refuse.
import type { KeywordDefinition } from 'ajv';

export type RequisiteKind = 'inn' | 'kpp' | 'ogrn' | 'bik' | 'account';

const digits = (s: string): number[] => [...s].map((c) => c.charCodeAt(0) - 48);

function innCheck(d: number[], weights: number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += d[i]! * weights[i]!;
  return (sum % 11) % 10;
}

/** Why `value` is not a valid requisite of `kind`, or null when it is. */
export function requisiteProblem(kind: RequisiteKind, value: string): string | null {
  switch (kind) {
    case 'inn': {
      if (!/^[0-9]{10}$|^[0-9]{12}$/.test(value)) return 'is not an INN: 10 digits (organisation) or 12 digits (individual)';
      const d = digits(value);
      if (d.length === 10) {
        return innCheck(d, [2, 4, 10, 3, 5, 9, 4, 6, 8]) === d[9] ? null : 'is not a valid INN: the check digit does not match';
      }
      const ok = innCheck(d, [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) === d[10] && innCheck(d, [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) === d[11];
      return ok ? null : 'is not a valid INN: the check digits do not match';
    }
    case 'kpp':
      return /^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$/.test(value) ? null : 'is not a KPP: 9 characters (4 digits, 2 digits or capital letters, 3 digits)';
    case 'ogrn': {
      if (!/^[0-9]{13}$|^[0-9]{15}$/.test(value)) return 'is not an OGRN: 13 digits (OGRN) or 15 digits (OGRNIP)';
      // The check digit is the remainder of the leading digits by 11 (OGRN) or 13 (OGRNIP), mod 10.
      const body = BigInt(value.slice(0, -1));
      const mod = value.length === 13 ? 11n : 13n;
      return Number((body % mod) % 10n) === Number(value.slice(-1)) ? null : 'is not a valid OGRN: the check digit does not match';
    }
    case 'bik':
      return /^04[0-9]{7}$/.test(value) ? null : 'is not a BIK: 9 digits starting with 04';
    case 'account':
      return /^[0-9]{20}$/.test(value) ? null : 'is not a bank account number: 20 digits';
  }
}

/**
 * ajv keyword `requisite: inn|kpp|ogrn|bik|account` on string properties. Errors carry the keyword
 * as their rule and a message naming the value, like the other canonical rules.
 */
export const requisiteKeyword: KeywordDefinition = {
  keyword: 'requisite',
  type: 'string',
  schemaType: 'string',
  errors: true,
  validate: function check(kind: RequisiteKind, value: string) {
    const problem = requisiteProblem(kind, value);
    if (problem === null) return true;
    (check as unknown as { errors: unknown[] }).errors = [{ keyword: 'requisite', message: `${JSON.stringify(value)} ${problem}`, params: { requisite: kind } }];
    return false;
  },
};
