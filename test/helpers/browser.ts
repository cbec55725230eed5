// A real browser for page tests: Debian's chromium (installed by ops/ensure-browser.sh, which the test
// command runs) driven by playwright-core. A machine without it fails the test with the reason; a
// browser test is never skipped. Screenshots go to test-artifacts/ (kept by CI as artifacts).
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_DIR } from '../../src/schemas/index.ts';

export const CHROMIUM = process.env.MAGISTRAL_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_DIR, 'test-artifacts');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: run 'bash ops/ensure-browser.sh' (Debian: apt-get install chromium) or set MAGISTRAL_CHROMIUM`);
  }
  // The flags keep Chromium off the network (this machine's closed network refuses its background
  // connections, many at a time) and out of a sandbox that needs privileges tests do not have.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Saves a full-page PNG as test-artifacts/<area>/<name>.png and returns its path. */
export async function shot(page: Page, name: string, area = 'cabinet'): Promise<string> {
  const dir = path.join(ARTIFACTS, area);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The text of the first element `selector` finds, its whitespace collapsed (what a reader sees). */
export async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent() ?? '').replace(/\s+/g, ' ').trim();
}
