// The error a cabinet service raises for the buyer: an HTTP status and a message in Russian that the
// page shows as it is (the cabinet's error handler renders it; nothing else of the error is shown).
export class CabinetError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
    this.name = 'CabinetError';
  }
}
