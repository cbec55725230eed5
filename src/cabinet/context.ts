// Who a cabinet request speaks for, resolved from its session once per request: the contact and its
// client (pending, blocked), the legal entities the contact acts for (a contact may belong to several
// of one holding) and the one chosen, the delivery city (chosen, else the client's, else the default
// city), the pricing that follows (agreement of the legal entity, else the city's price type; a pending
// client sees base city prices), the personal manager, and whether the contact may order now.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { resolvePricingInCity, type Pricing } from '../portal/pricing.ts';
import type { CatalogScope } from '../api/portal/catalog-query.ts';
import { DEFAULT_CITY_SETTING } from '../api/portal/auth.ts';
import type { SessionRow } from './sessions.ts';

type Db = Kysely<Database>;

export interface LegalEntityRef {
  id: number;
  code: string;
  name: string;
  inn: string | null;
  kpp: string | null;
  address: string | null;
  role: 'head' | 'subordinate';
  /** Stage 2 here: a head, or a contact whose authority a head confirmed (src/backoffice/rights.ts decides; pages only show links). */
  confirmed: boolean;
}

export interface CityRef {
  id: number;
  code: string;
  name: string;
}

export interface ManagerRef {
  name: string;
  email: string | null;
  phone: string | null;
  photoUrl: string | null;
}

export type ViewMode = 'tiles' | 'table';

/** A manager working as the contact (src/backoffice/impersonation.ts): the banner and the audit read it. */
export interface ImpersonationRef {
  id: number;
  managerId: number;
  managerName: string;
  clientId: number;
  /** When the session ends by itself. */
  endsAt: Date;
}

export interface CabinetContext {
  session: SessionRow;
  contact: { id: number; code: string; name: string; email: string | null; position: string | null } | null;
  client: { id: number; code: string; name: string; pending: boolean; blocked: boolean } | null;
  legalEntities: LegalEntityRef[];
  legalEntity: LegalEntityRef | null;
  city: CityRef | null;
  cities: CityRef[];
  pricing: Pricing;
  /** What the catalog and search queries (src/api/portal) take. */
  scope: CatalogScope;
  manager: ManagerRef | null;
  /** The contact may place orders for the chosen legal entity now. */
  canOrder: boolean;
  /** Why not, in Russian, when it may not. */
  whyNoOrder: string | null;
  prefs: { view: ViewMode };
  /** Set while a manager works as the contact; null for the contact's own sessions. */
  impersonation: ImpersonationRef | null;
}

export interface SignedInContext extends CabinetContext {
  contact: NonNullable<CabinetContext['contact']>;
  client: NonNullable<CabinetContext['client']>;
}

export interface OrderingContext extends SignedInContext {
  legalEntity: LegalEntityRef;
}

export async function loadCabinetContext(db: Db, session: SessionRow): Promise<CabinetContext> {
  const who = session.contactId === null ? undefined : await sql<{
    contact_id: number; contact_code: string; contact_name: string; contact_email: string | null; position: string | null;
    client_id: number | null; client_code: string | null; client_name: string | null; pending: boolean | null; blocked: boolean | null; client_city_id: number | null;
    manager_name: string | null; manager_email: string | null; manager_phone: string | null; manager_photo: string | null; prefs: Record<string, unknown> | null;
  }>`
    SELECT ct.id AS contact_id, ct.code AS contact_code, ct.name AS contact_name, coalesce(a.email, ct.email) AS contact_email, ct.position,
      cl.id AS client_id, cl.code AS client_code, cl.name AS client_name, cl.pending, cl.blocked, cl.city_id AS client_city_id,
      m.name AS manager_name, m.email AS manager_email, m.phone AS manager_phone, m.photo_url AS manager_photo, a.prefs
    FROM contacts ct
    LEFT JOIN cabinet_accounts a ON a.contact_id = ct.id
    LEFT JOIN clients cl ON cl.id = ct.client_id AND NOT cl.placeholder
    LEFT JOIN managers m ON m.id = cl.manager_id AND NOT m.placeholder
    WHERE ct.id = ${session.contactId} AND NOT ct.deleted`.execute(db).then((r) => r.rows[0]);

  const legalEntities = who ? (await sql<LegalEntityRef>`
    SELECT le.id, le.code, le.name, le.inn, le.kpp, le.address, cle.role,
      (cle.role = 'head' OR cr.authority_confirmed_at IS NOT NULL) AS confirmed
    FROM contact_legal_entities cle JOIN legal_entities le ON le.id = cle.legal_entity_id
    LEFT JOIN contact_rights cr ON cr.contact_id = cle.contact_id AND cr.legal_entity_id = cle.legal_entity_id
    WHERE cle.contact_id = ${who.contact_id} AND le.client_id = ${who.client_id} AND NOT le.deleted AND NOT le.placeholder
    ORDER BY le.name, le.id`.execute(db)).rows : [];
  // The session's choice, else the one the contact chose last time (account prefs), else the first.
  const remembered = typeof who?.prefs?.legalEntity === 'string' ? who.prefs.legalEntity : undefined;
  const legalEntity = legalEntities.find((l) => l.id === session.legalEntityId) ?? legalEntities.find((l) => l.code === remembered) ?? legalEntities[0] ?? null;

  const imp = session.impersonationId === null ? undefined : (await sql<{ id: string; manager_id: number; manager_name: string; client_id: string; expires_at: Date }>`
    SELECT i.id::text, i.manager_id, m.name AS manager_name, i.client_id::text, i.expires_at
    FROM impersonations i JOIN managers m ON m.id = i.manager_id WHERE i.id = ${session.impersonationId}`.execute(db)).rows[0];

  const cities = (await sql<CityRef>`SELECT id, code, name FROM cities WHERE NOT placeholder ORDER BY name`.execute(db)).rows;
  const defaultCity = async (): Promise<number | null> => (await sql<{ id: number }>`
    SELECT c.id FROM portal_settings s JOIN cities c ON c.code = s.value WHERE s.key = ${DEFAULT_CITY_SETTING}`.execute(db)).rows[0]?.id ?? null;
  const cityId = [session.cityId, who?.client_city_id].find((id) => id != null && cities.some((c) => c.id === id))
    ?? (await defaultCity()) ?? cities[0]?.id ?? null;
  const city = cities.find((c) => c.id === cityId) ?? null;

  const client = who && who.client_id !== null
    ? { id: who.client_id, code: who.client_code!, name: who.client_name!, pending: who.pending === true, blocked: who.blocked === true }
    : null;
  // A client awaiting approval has no agreement yet: it is priced as any visitor of its city.
  const priced = client && !client.pending ? client.id : null;
  // One statement: the pricing's joins resolve the city's own price type too (the catalog's "on sale").
  const { pricing, cityPriceTypeId } = await resolvePricingInCity(db, { clientId: priced, legalEntityId: priced === null ? null : legalEntity?.id ?? null, cityId });

  let whyNoOrder: string | null = null;
  if (!who) whyNoOrder = 'Войдите, чтобы оформлять заказы.';
  else if (!client) whyNoOrder = 'Ваша учётная запись не привязана к клиенту. Обратитесь к менеджеру.';
  else if (client.pending) whyNoOrder = 'Ваша регистрация ждёт проверки менеджером: пока видны базовые цены, заказы недоступны.';
  else if (client.blocked) whyNoOrder = 'Оформление заказов заблокировано. Обратитесь к вашему менеджеру.';
  else if (!legalEntity) whyNoOrder = 'Вы не привязаны ни к одному юридическому лицу. Обратитесь к менеджеру.';
  else if (pricing.priceTypeId === null) whyNoOrder = 'Для вас не задан тип цен. Обратитесь к менеджеру.';

  const view = session.prefs.view ?? who?.prefs?.view;
  return {
    session,
    contact: who ? { id: who.contact_id, code: who.contact_code, name: who.contact_name, email: who.contact_email, position: who.position } : null,
    client, legalEntities, legalEntity, city, cities, pricing,
    scope: { cityId, cityPriceTypeId, pricing },
    manager: who?.manager_name ? { name: who.manager_name, email: who.manager_email, phone: who.manager_phone, photoUrl: who.manager_photo } : null,
    canOrder: whyNoOrder === null, whyNoOrder,
    prefs: { view: view === 'table' ? 'table' : 'tiles' },
    impersonation: imp ? { id: Number(imp.id), managerId: imp.manager_id, managerName: imp.manager_name, clientId: Number(imp.client_id), endsAt: imp.expires_at } : null,
  };
}
