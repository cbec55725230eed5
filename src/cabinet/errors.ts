// What the cabinet's services refuse, said in Russian for the buyer: a status (404 for anything of
// another client, contact or legal entity — it looks absent; 400 for bad input; 403 for a refusal)
// and per-field problems so a form can show each next to its field.

export interface FieldProblem {
  /** The form field or line the problem is about (`quantity`, `lines[3]`, `name`). */
  field: string;
  message: string;
}

export class ShopError extends Error {
  readonly status: number;
  readonly problems: FieldProblem[];

  constructor(status: number, message: string, problems: FieldProblem[] = []) {
    super(message);
    this.name = 'ShopError';
    this.status = status;
    this.problems = problems;
  }
}

export const isShopError = (e: unknown): e is ShopError => e instanceof ShopError;

/** The one text for anything that is not the shopper's: it must not tell "exists, not yours" from "absent". */
export const notFound = (message: string): ShopError => new ShopError(404, message);
