import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';

let f: CabinetFixture;
let browser: Browser;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('cabsmoke'), launchBrowser()]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

describe('smoke', () => {
  it('signs in', async () => {
    const page = await browser.newPage();
    await f.signIn(page);
    await shot(page, 'smoke-after-login');
    await page.goto(`${f.baseUrl}/cabinet`);
    expect(await page.locator('h1').textContent()).toMatch(/Здравствуйте/);
    await shot(page, 'smoke-home');
  });
});
