// Options of the sap.rfc connector: how to reach the SAP system (application server or a destination of
// sapnwrfc.ini), and what to read: a table through RFC_READ_TABLE (or a compatible function module such
// as /BODS/RFC_READ_TABLE2), or the rows of one table parameter of a configured BAPI.
import { ENV_NAME } from '../../lib/index.ts';

export interface RfcTableRead {
  /** Table or view, e.g. MARA, KONP, A304. */
  name: string;
  fields: string[];
  /** WHERE clause in ABAP Open SQL (`MTART = 'FERT' AND LVORM = ' '`), split into the 72-character OPTIONS lines. */
  where?: string;
  delimiter: string;
  /** ROWCOUNT of one call; ROWSKIPS moves by it. */
  rowCount: number;
  /** The reading function module. @defaultValue 'RFC_READ_TABLE' */
  function: string;
  /** Fields given in ALPHA's internal form (`000000000000012345`): all-digit values lose their leading zeros. */
  alphaOut: string[];
}

export interface RfcBapiCall {
  function: string;
  /** Import parameters, passed as they are (structures as objects, tables as lists of objects). */
  params: Record<string, unknown>;
  /** The table parameter whose rows become records. */
  resultTable: string;
}

export interface SapRfcOptions {
  /** A destination of sapnwrfc.ini (`dest`), or the application server below. */
  dest?: string;
  ashost?: string;
  sysnr?: string;
  client?: string;
  saprouter?: string;
  lang: string;
  userEnv?: string;
  passwordEnv?: string;
  table?: RfcTableRead;
  bapi?: RfcBapiCall;
}

/** ABAP names: table, field and function module names (namespaces `/BODS/` included). */
const ABAP_NAME = { type: 'string', pattern: '^(/[A-Z0-9_]+/)?[A-Z][A-Z0-9_]{0,39}$' } as const;

export const SAP_RFC_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/sap.rfc.options.json',
  title: 'sap.rfc options',
  type: 'object',
  additionalProperties: false,
  properties: {
    dest: { type: 'string', minLength: 1, maxLength: 64, description: 'destination name in sapnwrfc.ini (RFC_INI)' },
    ashost: { type: 'string', minLength: 1, maxLength: 255, description: 'application server host' },
    sysnr: { type: 'string', pattern: '^[0-9]{2}$', description: 'system number (two digits)' },
    client: { type: 'string', pattern: '^[0-9]{3}$', description: 'client (three digits)' },
    saprouter: { type: 'string', minLength: 1 },
    lang: { type: 'string', pattern: '^[A-Za-z]{1,2}$', default: 'EN', description: 'logon language' },
    userEnv: { ...ENV_NAME, description: 'environment variable holding the RFC user' },
    passwordEnv: { ...ENV_NAME, description: 'environment variable holding its password' },
    table: {
      type: 'object', additionalProperties: false, required: ['name', 'fields'],
      properties: {
        name: ABAP_NAME,
        fields: { type: 'array', minItems: 1, items: ABAP_NAME },
        where: { type: 'string', minLength: 1, maxLength: 20000 },
        delimiter: { type: 'string', minLength: 1, maxLength: 1, default: '|' },
        rowCount: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
        function: { ...ABAP_NAME, default: 'RFC_READ_TABLE' },
        alphaOut: { type: 'array', items: ABAP_NAME, default: [], description: 'fields whose all-digit values lose their leading zeros (MATNR, KUNNR), as the ALPHA conversion exit shows them' },
      },
    },
    bapi: {
      type: 'object', additionalProperties: false, required: ['function', 'resultTable'],
      properties: {
        function: ABAP_NAME,
        params: { type: 'object', default: {} },
        resultTable: ABAP_NAME,
      },
    },
  },
  oneOf: [{ required: ['table'] }, { required: ['bapi'] }],
  anyOf: [{ required: ['dest'] }, { required: ['ashost', 'sysnr', 'client'] }],
  dependencies: { passwordEnv: ['userEnv'], userEnv: ['passwordEnv'] },
} as const;

export function resolveRfcOptions(raw: Record<string, unknown>): SapRfcOptions {
  const t = raw.table as Partial<RfcTableRead> | undefined;
  const b = raw.bapi as Partial<RfcBapiCall> | undefined;
  return {
    dest: raw.dest as string | undefined,
    ashost: raw.ashost as string | undefined,
    sysnr: raw.sysnr as string | undefined,
    client: raw.client as string | undefined,
    saprouter: raw.saprouter as string | undefined,
    lang: (raw.lang as string | undefined) ?? 'EN',
    userEnv: raw.userEnv as string | undefined,
    passwordEnv: raw.passwordEnv as string | undefined,
    table: t ? {
      name: t.name!, fields: t.fields!, where: t.where, delimiter: t.delimiter ?? '|', rowCount: t.rowCount ?? 10000, function: t.function ?? 'RFC_READ_TABLE', alphaOut: t.alphaOut ?? [],
    } : undefined,
    bapi: b ? { function: b.function!, params: b.params ?? {}, resultTable: b.resultTable! } : undefined,
  };
}
