// Real exports from real systems, kept verbatim under test/fixtures/samples (sources and licenses in
// the README there), so the suite runs from any clean clone.
import path from 'node:path';

export const SAMPLES_DIR = path.resolve(import.meta.dirname, '../fixtures/samples');
export const ONEC_SAMPLES = path.join(SAMPLES_DIR, 'onec');
