// ajv instance holding every JSON Schema of schemas/, and validators compiled from them. Types come
// from the same schemas (types.gen.ts), so the compiler and the validators cannot drift apart.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { SCHEMAS_DIR } from './paths.ts';
import type { Problem } from '../errors/index.ts';
import { requisiteKeyword } from '../portal/requisites.ts';

export * from './types.gen.ts';
export { SCHEMAS_DIR, REPO_DIR, schemaPath } from './paths.ts';

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

export const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: true });
// Check digits of Russian requisites (INN, OGRN…) on counterparties: `requisite: inn` in a schema.
ajv.addKeyword(requisiteKeyword);
for (const f of readdirSync(path.join(SCHEMAS_DIR, 'canonical'))) {
  if (f.endsWith('.schema.json')) ajv.addSchema(readJson(path.join(SCHEMAS_DIR, 'canonical', f)));
}
for (const f of ['flow.schema.json', 'mapping.schema.json']) ajv.addSchema(readJson(path.join(SCHEMAS_DIR, f)));

export function validatorFor(id: string): ValidateFunction {
  const fn = ajv.getSchema(id);
  if (!fn) throw new Error(`schema not loaded: ${id}`);
  return fn;
}

export const FLOW_SCHEMA_ID = 'https://magistral.dev/schemas/flow.schema.json';
export const MAPPING_SCHEMA_ID = 'https://magistral.dev/schemas/mapping.schema.json';

/** Target name in a flow → canonical schema file. */
export const CANONICAL_SCHEMA: Record<string, string> = {
  prices: 'https://magistral.dev/schemas/canonical/price.schema.json',
  stock: 'https://magistral.dev/schemas/canonical/stock.schema.json',
  products: 'https://magistral.dev/schemas/canonical/product.schema.json',
  groups: 'https://magistral.dev/schemas/canonical/group.schema.json',
  priceTypes: 'https://magistral.dev/schemas/canonical/price-type.schema.json',
  warehouses: 'https://magistral.dev/schemas/canonical/warehouse.schema.json',
  cities: 'https://magistral.dev/schemas/canonical/city.schema.json',
  managers: 'https://magistral.dev/schemas/canonical/manager.schema.json',
  clients: 'https://magistral.dev/schemas/canonical/client.schema.json',
  legalEntities: 'https://magistral.dev/schemas/canonical/legal-entity.schema.json',
  contacts: 'https://magistral.dev/schemas/canonical/contact.schema.json',
  contactLegalEntities: 'https://magistral.dev/schemas/canonical/contact-legal-entity.schema.json',
  agreements: 'https://magistral.dev/schemas/canonical/agreement.schema.json',
  properties: 'https://magistral.dev/schemas/canonical/property.schema.json',
  propertyValues: 'https://magistral.dev/schemas/canonical/property-value.schema.json',
  productProperties: 'https://magistral.dev/schemas/canonical/product-property.schema.json',
  productUnits: 'https://magistral.dev/schemas/canonical/product-unit.schema.json',
  synonyms: 'https://magistral.dev/schemas/canonical/synonym.schema.json',
  receivables: 'https://magistral.dev/schemas/canonical/receivable.schema.json',
  settlementEntries: 'https://magistral.dev/schemas/canonical/settlement-entry.schema.json',
  orderDocuments: 'https://magistral.dev/schemas/canonical/order-document.schema.json',
};

/**
 * Canonical definitions describe their values as noun phrases without a full stop ("non-negative
 * decimal number …"), made to follow "is not a". Other descriptions are sentences: shown as a hint.
 */
function nounPhrase(schema: unknown): string | undefined {
  const d = (schema as { description?: string } | undefined)?.description?.trim();
  return d && !d.endsWith('.') ? d : undefined;
}

/**
 * Turns ajv errors into problems a person can act on: the path in the document, the rule, and a
 * message that names the value and, where the schema describes it, what was expected.
 * `oneOf` noise (the branch errors that follow from it) is folded into the one error that matters.
 */
export function toProblems(errors: ErrorObject[] | null | undefined, root = ''): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const p = root + (e.instancePath || '');
    let message: string;
    switch (e.keyword) {
      case 'required':
        message = `missing required property '${(e.params as { missingProperty: string }).missingProperty}'`;
        break;
      case 'additionalProperties':
        message = `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
        break;
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
        const desc = nounPhrase(e.parentSchema);
        message = allowed.length <= 12 || !desc
          ? `${JSON.stringify(e.data)} is not one of: ${allowed.slice(0, 12).join(', ')}${allowed.length > 12 ? ', …' : ''}`
          : `${JSON.stringify(e.data)} is not a valid ${desc}`;
        break;
      }
      case 'pattern':
      case 'minLength':
      case 'maxLength': {
        const desc = (e.parentSchema as { description?: string } | undefined)?.description;
        const noun = nounPhrase(e.parentSchema);
        message = noun ? `${JSON.stringify(e.data)} is not a ${noun}`
          : desc ? `${JSON.stringify(e.data)} ${e.message} (${desc.replace(/\.$/, '')})`
          : `${JSON.stringify(e.data)} ${e.message}`;
        break;
      }
      case 'type':
        message = `${JSON.stringify(e.data)} ${e.message}`;
        break;
      case 'maximum':
      case 'minimum':
      case 'exclusiveMaximum':
      case 'exclusiveMinimum': {
        // What the number is, from the schema: `5 must be <= 1 (a share of the rows in scope …)`.
        const desc = (e.parentSchema as { description?: string } | undefined)?.description;
        message = `${JSON.stringify(e.data)} ${e.message}${desc ? ` (${desc.replace(/\.$/, '')})` : ''}`;
        break;
      }
      default:
        message = e.message ?? 'is invalid';
    }
    const key = `${p}|${e.keyword}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: p || '/', message, rule: e.keyword });
  }
  // When a more specific error exists under the same path, the generic oneOf/if failure adds nothing.
  return out.filter((x) => !(x.rule === 'oneOf' && out.some((y) => y !== x && y.path.startsWith(x.path) && y.rule !== 'oneOf')));
}
