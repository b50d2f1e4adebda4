// Renders the bill e-mails the mailer's snapshot tests produced in headless Chromium (Debian's
// chromium, driven by playwright-core from web/node_modules) at a phone's width (390 px) and a
// desktop mail pane's (800 px). Fails when a bill scrolls sideways (its content is wider than
// the window), or does not show its stub, REMIT-TO, group subtotals and partial-period marks.
// Keeps a full-page screenshot of each in target/artifacts/.
//   node dev/render-check.mjs /usr/bin/chromium
import { createRequire } from 'node:module';
import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const { chromium } = createRequire(resolve(root, 'web/package.json'))('playwright-core');
const out = resolve(root, 'target/artifacts');
mkdirSync(out, { recursive: true });

const bills = {
  'bill-usd': ['(partial period)', 'Subtotal Seats'],
  'bill-jpy': ['(partial period)', 'Subtotal Seats'],
  'bill-contract': ['Dec 1, 2026 – Dec 31, 2026', '1,234,567.89 USD'],
};
const everyBill = ['PAYMENT STUB', 'Amount enclosed', 'REMIT TO'];

const browser = await chromium.launch({
  executablePath: process.argv[2],
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
const failures = [];
try {
  for (const [name, needles] of Object.entries(bills)) {
    const url = pathToFileURL(resolve(root, 'functions/invoice-mailer/tests/snapshots', `${name}.html`)).href;
    for (const width of [390, 800]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(url);
      const seen = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
        text: document.body.innerText,
      }));
      if (seen.scroll > seen.inner) {
        failures.push(`${name} at ${width} px: content is ${seen.scroll} px wide, the window ${seen.inner} px`);
      }
      for (const needle of [...everyBill, ...needles]) {
        if (!seen.text.includes(needle)) failures.push(`${name} at ${width} px does not show "${needle}"`);
      }
      const shot = resolve(out, `${name}-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`render-check: ${name} at ${width} px: ${seen.scroll} px wide; ${shot} (${statSync(shot).size} bytes)`);
      await page.close();
    }
  }
} finally {
  await browser.close();
}
if (failures.length) {
  for (const f of failures) console.error(`render-check: ${f}`);
  process.exit(1);
}
console.log(`render-check: ${Object.keys(bills).length} bills read without sideways scrolling at 390 and 800 px`);
