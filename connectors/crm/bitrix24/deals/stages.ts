// Deal stages as portal order statuses. Bitrix24's default pipeline has the stages below; a pipeline
// other than the default prefixes its stages with `C<category>:` (C2:WON), which the table matches by the
// full id first, then by the part after the colon. The flow's `stages` option replaces entries.
import type { ExternalOrderChange } from '../../../../src/port/index.ts';

export interface StageRule {
  status: string;
  cancelled?: boolean;
  shipped?: boolean;
}

/**
 * Default: a new deal is an accepted order; documents and the prepayment invoice confirm it; executing
 * and the final invoice are work in progress; won completes it; lost cancels it.
 */
export const DEFAULT_STAGES: Readonly<Record<string, StageRule>> = {
  NEW: { status: 'accepted' },
  PREPARATION: { status: 'confirmed' },
  PREPAYMENT_INVOICE: { status: 'confirmed' },
  EXECUTING: { status: 'in_work' },
  FINAL_INVOICE: { status: 'in_work' },
  WON: { status: 'completed' },
  LOSE: { status: 'cancelled', cancelled: true },
};

export const stagesSchema = {
  type: 'object',
  description: 'Deal stage id (NEW, C2:WON …) → portal order status (new, accepted, confirmed, in_work, shipped, completed, cancelled), replacing the default for that stage. A stage mapped to null is not reported.',
  propertyNames: { pattern: '^[A-Za-z0-9_:-]{1,64}$' },
  additionalProperties: {
    oneOf: [
      { type: 'string', minLength: 1 },
      { type: 'null' },
      {
        type: 'object', additionalProperties: false, required: ['status'],
        properties: { status: { type: 'string', minLength: 1 }, cancelled: { type: 'boolean' }, shipped: { type: 'boolean' } },
      },
    ],
  },
} as const;

export type StagesOption = Record<string, string | null | StageRule>;

/** The rule for a stage id, or undefined when the stage is not mapped (or mapped to null). */
export function ruleOf(stage: string, option: StagesOption | undefined): StageRule | undefined {
  const pick = (key: string): StageRule | null | undefined => {
    if (option && key in option) {
      const v = option[key];
      return v === null || v === undefined ? null : typeof v === 'string' ? { status: v, ...(v === 'cancelled' ? { cancelled: true } : {}) } : v;
    }
    return DEFAULT_STAGES[key];
  };
  const colon = stage.indexOf(':');
  const full = pick(stage);
  if (full !== undefined) return full ?? undefined;
  if (colon < 0) return undefined;
  return pick(stage.slice(colon + 1)) ?? undefined;
}

/** A deal as far as its status goes. */
export interface DealState { ID: string; STAGE_ID: string; ORIGIN_ID?: string | null }

/**
 * The order change a deal's stage means, for the order whose number is the deal's ORIGIN_ID. Forward
 * only: a deal moved back to an earlier stage does not take an order's later status back.
 */
export function stageChange(deal: DealState, option: StagesOption | undefined, number?: string): ExternalOrderChange | undefined {
  const origin = number ?? (deal.ORIGIN_ID || undefined);
  if (!origin) return undefined;
  const rule = ruleOf(deal.STAGE_ID, option);
  if (!rule) return undefined;
  return {
    refs: { numbers: [origin] },
    change: { status: rule.status, ...(rule.cancelled ? { cancelled: true } : {}), ...(rule.shipped ? { shipped: true } : {}) },
    forwardOnly: !rule.cancelled,
    warnings: [],
  };
}
