// A user-facing problem with an uploaded file or a price-list request: the message is Russian, names
// the file / row / field and the rule, and is shown on the page as is (the web layer turns it into a
// CabinetError with `status`).
export class UploadError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = 'UploadError';
  }
}
