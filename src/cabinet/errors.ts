// The error a cabinet service raises for the buyer: an HTTP status and a message in Russian that the
// page shows as it is (the cabinet's error handler renders it; nothing else of the error is shown).
export class CabinetError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
    this.name = 'CabinetError';
  }
}

/** A problem of one form field or line (`quantity`, `lines[3]`, `address`), shown next to it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * A refusal of the cart, saved carts and checkout services: a CabinetError (so the page shows its text)
 * with every problem found, one per field or line. 404 for anything of another client, contact or legal
 * entity (it looks absent), 400 for bad input, 403 for a refusal.
 */
export class ShopError extends CabinetError {
  readonly problems: FieldProblem[];

  constructor(status: number, message: string, problems: FieldProblem[] = []) {
    super(status, message, problems[0]?.field);
    this.name = 'ShopError';
    this.problems = problems;
  }
}

export const notFound = (message: string): ShopError => new ShopError(404, message);
