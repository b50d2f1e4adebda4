// The portal in headless Chromium (Debian's, driven by playwright-core) against the whole local
// stack: every page at a phone's and a desktop's width, as admin, billing and viewer users, with
// axe-core on each page and screenshots kept under target/artifacts/web/.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import { Amplify } from '@aws-amplify/core';
import { fetchAuthSession, signIn as amplifySignIn, signOut as amplifySignOut } from '@aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from '@aws-amplify/auth/cognito';
import { repo, startStack } from './stack.mjs';

const ARTIFACTS = join(repo, 'target/artifacts/web');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const ADMIN = ['admin@demo.example', 'Demo-Admin-2026'];
const BILLING = ['billing@demo.example', 'Demo-Billing-2026'];
const VIEWER = ['viewer@demo.example', 'Demo-Viewer-2026'];
const NEWCOMER = ['new.customer@demo.example', 'Demo-Customer-2026'];
const CLERK = ['clerk@seller.example', 'Staff-Clerk-2026'];
const APPROVER = ['approver@seller.example', 'Staff-Approver-2026'];
const STAFF_ADMIN = ['admin@seller.example', 'Staff-Admin-2026-x'];

/** An amount as shown (`$4,368.36`) in cents. */
const cents = (shown) => Math.round(Number(shown.replace(/[^0-9.-]/g, '')) * 100);
const WAIT = { timeout: 30_000 };

let stack;
let browser;
const findings = [];

async function context(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC' });
  ctx.setDefaultTimeout(20_000);
  return ctx;
}

/** Signs in on the sign-in form the page shows (the back office's own). */
async function signInHere(page, [email, password]) {
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
}

async function signIn(page, [email, password]) {
  await page.goto(`${stack.base}/signin`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
}

/** axe (WCAG 2 A/AA): no serious or critical violation; no horizontal scrolling; a screenshot. */
async function check(page, name) {
  await page.waitForLoadState('networkidle');
  const width = page.viewportSize().width;
  const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  findings.push({ page: name, width, violations: axe.violations.map((v) => `${v.impact} ${v.id}`) });
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `${name} at ${width}px has serious accessibility violations`,
  );
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name} at ${width}px scrolls sideways by ${overflow}px`);
  assert.deepEqual(await slivers(page), [], `${name} at ${width}px squeezes text into a sliver`);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
}

/** Text squeezed into a sliver: a visible run of text that wraps onto 2 or more lines of fewer
 * than 4 characters each (a letter per line), or onto 3 or more lines of a word each (a caption
 * shrunk to nothing, a label in a column too narrow). Each is named by its text and the lines it
 * takes. Text hidden for screen readers only (clipped to a pixel) is not looked at. */
function slivers(page) {
  return page.evaluate(() => {
    // Not shown: not displayed, invisible, or inside a box clipped to a pixel (visually hidden
    // text for screen readers, a stacked table's header).
    const hidden = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const cs = getComputedStyle(e);
        if (cs.display === 'none' || cs.visibility === 'hidden') return true;
        const r = e.getBoundingClientRect();
        const clips = cs.overflow !== 'visible' || cs.clip !== 'auto' || cs.clipPath !== 'none';
        if (clips && (r.width <= 2 || r.height <= 2)) return true;
      }
      return false;
    };
    const found = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const words = node.textContent.trim().split(/\s+/).filter(Boolean);
      const parent = node.parentElement;
      if (!words.length || !parent) continue;
      if (hidden(parent)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      const lines = tops.size;
      const chars = words.join(' ').length;
      if ((lines >= 2 && chars / lines < 4) || (lines >= 3 && lines >= words.length)) {
        found.push(`${JSON.stringify(words.join(' ').slice(0, 60))}: ${lines} lines`);
      }
    }
    return found;
  });
}

const text = (page) => page.locator('main').innerText();

/** The six-digit code of the newest mail in the outbox whose name has `part` (Cognito's mail). */
async function codeFromOutbox(part) {
  for (let i = 0; i < 50; i++) {
    const code = /code is (\d{6})/.exec(stack.mails(part).at(-1) ?? '')?.[1];
    if (code) return code;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no code in the outbox for ${part}`);
}

/** A page as large as the app's first load (HTML, scripts, styles), for the timing baseline. */
function staticPageLikeTheApp() {
  const dist = join(repo, 'web/dist');
  const bytes = [join(dist, 'index.html'), ...readdirSync(join(dist, 'assets')).map((f) => join(dist, 'assets', f))]
    .map((f) => readFileSync(f).length)
    .reduce((a, b) => a + b, 0);
  const head = '<!doctype html><html lang=en><title>static</title><main><p id=ready>$0.00</p></main><!--';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - 10)) + '--></html>';
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  stack = await startStack({ extra: { 'bench-static.html': staticPageLikeTheApp() } });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  writeFileSync(join(ARTIFACTS, 'axe.json'), JSON.stringify(findings, null, 2));
  await browser?.close();
  await stack?.stop();
});

describe('the customer portal', { concurrency: false }, () => {
  it('the sliver check catches a caption shrunk to a letter per line, and passes text that wraps normally', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await page.setContent(`<main>
      <table style="display:block"><caption style="display:table-cell;width:0">Rack space A12 to A14</caption></table>
      <div style="width:10px;overflow-wrap:anywhere">Bandwidth</div>
      <div style="width:60px">Subtotal (excl. tax)</div>
      <p style="width:200px">A sentence that wraps over a few lines at this width, as sentences do.</p>
      <span class="sr-only" style="position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)">Hidden helper text</span>
    </main>`);
    const found = await slivers(page);
    assert.equal(found.length, 3, found.join('; '));
    assert.match(found[0], /Rack space/);
    assert.match(found[1], /Bandwidth/);
    assert.match(found[2], /Subtotal \(excl\. tax\)/);
    await ctx.close();
  });

  it('asks for sign-in, and explains a wrong password', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await page.goto(`${stack.base}/accounts/acct_demo/bills`);
    await page.waitForURL(/\/signin\?next=/);
    await check(page, 'signin');
    await page.getByLabel('E-mail').fill(ADMIN[0]);
    await page.getByLabel('Password').fill('Not-The-Password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').innerText(), 'Wrong e-mail or password.');
    // With the keyboard alone (focus visible at each step), and the page asked for comes back.
    await page.getByLabel('E-mail').fill('');
    await page.getByLabel('E-mail').focus();
    await page.keyboard.type(ADMIN[0]);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'password');
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none', 'focus is visible');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(ADMIN[1]);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/accounts\/acct_demo\/bills$/);
    // The new page's heading takes the focus (screen readers announce it); Tab goes on from there.
    await page.getByRole('heading', { name: 'Bills', level: 1 }).waitFor();
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => !!document.activeElement?.closest('main')), 'Tab moves on within the page');
    await ctx.close();
  });

  it('admin: overview, buy seats through Checkout, a declining card made default, add seats with the preview, pay the balance', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await signIn(page, ADMIN);
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor();
    await check(page, 'accounts');
    await page.getByRole('link', { name: 'Demo Hosting Customer Ltd' }).click();
    await page.getByTestId('balance-due').waitFor();
    assert.equal(await page.getByTestId('balance-due').innerText(), '$0.00');
    assert.match(await text(page), /PO Box 1234/, 'the REMIT-TO address');
    assert.match(await text(page), /support@demo-hosting\.example/, 'where to get help');
    await check(page, 'overview');

    // Buy 5 monthly seats: the fake Checkout shows what is bought and sends the user back.
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Seats' }).click();
    await page.getByRole('heading', { name: 'Buy seats' }).waitFor();
    await check(page, 'seats-buy');
    await page.getByLabel('Number of seats').fill('five');
    await page.getByRole('button', { name: 'Buy seats' }).click();
    assert.match(await page.locator('.field-error').innerText(), /whole number/);
    await page.getByLabel('Number of seats').fill('5');
    await page.getByRole('button', { name: 'Buy seats' }).click();
    await page.waitForURL(/\/checkout\/cs_test/);
    assert.match(await page.locator('body').innerText(), /5 × 12\.00 USD/);
    assert.equal(await page.locator('#total').innerText(), '60.00 USD');
    await page.getByRole('button', { name: /4242 4242 4242 4242/ }).click();
    await page.waitForURL(/\/accounts\/acct_demo\/seats/);
    await page.getByText('Your seats are ready.').waitFor(WAIT);
    assert.equal(await page.getByTestId('seat-count').innerText(), '5');
    await check(page, 'seats');

    // Save Stripe's 0341 test card (later charges are declined) and make it the default.
    await page.getByRole('link', { name: 'Cards' }).click();
    await page.getByText(/Visa •••• 4242/).waitFor(WAIT);
    await page.getByRole('button', { name: 'Add a card' }).click();
    await page.waitForURL(/\/checkout\/cs_test/);
    await page.getByRole('button', { name: /0341/ }).click();
    await page.waitForURL(/\/payment-methods/);
    await page.getByText('Card saved.').waitFor(WAIT);
    await page.getByText(/Visa •••• 0341/).waitFor();
    await page.getByRole('button', { name: /Make default: Visa •••• 0341/ }).click();
    await page.getByText('Default card changed.').waitFor(WAIT);
    await check(page, 'cards');

    // The new TOTAL with the preview, then confirm: charged to the (declining) default card.
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Seats' }).click();
    await page.getByLabel('New total number of seats').fill('8');
    await page.getByRole('button', { name: 'Preview the change' }).click();
    await page.getByTestId('amount-now').waitFor();
    assert.match(await page.getByTestId('amount-now').innerText(), /^\$\d+\.\d\d$/);
    assert.match(await page.getByTestId('new-renewal').innerText(), /\$96\.00/);
    await check(page, 'seats-preview');
    await page.getByRole('button', { name: /Confirm and pay/ }).click();
    await page.getByText('You now have 8 seats.').waitFor(WAIT);

    // The declined proration is owed: pay it with another card through Checkout.
    await page.getByRole('link', { name: 'Overview' }).click();
    for (let i = 0; i < 30 && (await page.getByTestId('balance-due').innerText()) === '$0.00'; i++) {
      await page.waitForTimeout(1000);
      await page.reload();
      await page.getByTestId('balance-due').waitFor();
    }
    assert.notEqual(await page.getByTestId('balance-due').innerText(), '$0.00');
    await page.getByRole('link', { name: 'Pay now' }).click();
    await page.getByRole('heading', { name: 'Pay' }).waitFor();
    await check(page, 'pay');
    // The bill changed at Stripe since the page listed it (the API answers 409 invoice_changed
    // with the invoice as Stripe has it): the page offers it again at that amount, and paying
    // sends the amount the customer confirmed. The first answer is played; the retry is real.
    const owed = (await page.getByTestId('balance-due').innerText()).replace(/[^\d.]/g, '');
    let confirmed;
    await page.route('**/v1/accounts/acct_demo/payments', async (route) => {
      const sent = route.request().postDataJSON();
      if (!sent.expected_amounts) {
        const invoice = { id: sent.invoice_ids[0], status: 'open', amount_remaining: { amount: owed, currency: 'USD' } };
        const error = { code: 'invoice_changed', message: `invoice ${invoice.id} changed at the payment processor`, invoice };
        await route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ error }) });
        return;
      }
      confirmed = sent.expected_amounts;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Pay with another card' }).click();
    await page.getByText(/changed at the payment processor/).waitFor(WAIT);
    await check(page, 'pay-changed');
    await page.getByRole('button', { name: /^Pay \$[\d,.]+ for it$/ }).click();
    await page.waitForURL(/\/checkout\/cs_test/);
    await page.unroute('**/v1/accounts/acct_demo/payments');
    assert.deepEqual(confirmed?.[0]?.amount_remaining, { amount: owed, currency: 'USD' });
    await page.getByRole('button', { name: /^Pay with test card 4242/ }).click();
    await page.waitForURL(/\/accounts\/acct_demo\/billing/);
    await page.getByText('Payment received. Thank you.').waitFor(WAIT);
    assert.equal(await page.getByTestId('balance-due').innerText(), '$0.00');
    await check(page, 'pay-settled');

    // Bills: newest first, one opened with its grouped lines and service periods.
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Bills' }).click();
    await page.getByRole('table').waitFor();
    await check(page, 'bills');
    await page.getByLabel('Show').selectOption('paid');
    await page.getByRole('table').locator('tbody tr').first().waitFor();
    await page.getByRole('table').locator('tbody a').first().click();
    await page.getByTestId('amount-due').waitFor();
    assert.match(await text(page), /Subtotal/);
    assert.match(await text(page), /Service period/);
    await check(page, 'bill');

    // Receipts and PDFs at Stripe's customer portal, and back.
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Bills' }).click();
    await page.getByRole('button', { name: 'Receipts and invoice PDFs' }).click();
    await page.waitForURL(/\/billing_portal\//);
    await page.getByRole('link', { name: 'Return to the billing portal' }).click();
    await page.waitForURL(/\/accounts\/acct_demo\/bills$/);

    // Seats given to people and taken back (admins only).
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Seats' }).click();
    await page.getByLabel('Give a free seat to (e-mail)').fill('dev.one@demo.example');
    await page.getByRole('button', { name: 'Assign seat' }).click();
    await page.getByRole('button', { name: 'Unassign dev.one@demo.example' }).waitFor();
    await check(page, 'seats-assigned');
    await page.getByRole('button', { name: 'Unassign dev.one@demo.example' }).click();
    await page.getByRole('button', { name: 'Unassign dev.one@demo.example' }).waitFor({ state: 'detached' });
    await ctx.close();
  });

  it('admin: address with a field error, bill recipients, users and roles, audit, and a contract account sent to sales', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await signIn(page, ADMIN);
    await page.goto(`${stack.base}/accounts/acct_demo/settings`);
    await page.getByLabel('Country').fill('USA');
    await page.getByRole('button', { name: 'Save address' }).click();
    const countryError = page.locator('.field-invalid', { has: page.getByLabel('Country') }).locator('.field-error');
    await countryError.waitFor();
    assert.match(await countryError.innerText(), /ISO 3166-1|country/i);
    await check(page, 'settings-error');
    await page.getByLabel('Country').fill('US');
    await page.getByRole('button', { name: 'Save address' }).click();
    await page.getByText('Billing address saved.').waitFor();
    await page.getByRole('button', { name: 'Add an address' }).click();
    await page.getByRole('textbox', { name: 'Recipient 1' }).fill('ap@demo.example');
    await page.getByRole('button', { name: 'Save recipients' }).click();
    await page.getByText('Bill recipients saved.').waitFor();
    await check(page, 'settings');

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('E-mail').fill('new.person@demo.example');
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Send the invitation' }).click();
    await page.getByText(/Invited new\.person@demo\.example as Viewer/).waitFor();
    await page.getByLabel('Role of new.person@demo.example').selectOption('billing');
    await page.getByText('new.person@demo.example is now Billing.').waitFor();
    // The only admin cannot step down: the API's refusal, explained.
    await page.getByLabel('Role of admin@demo.example').selectOption('viewer');
    await page.getByText(/at least one active admin/).waitFor();
    await check(page, 'users');

    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByRole('table').waitFor();
    assert.match(await text(page), /member role changed/);
    await check(page, 'audit');

    // The account switcher, to the account billed by invoice contract.
    await page.getByLabel('Switch account').selectOption('acct_democontract');
    await page.getByRole('heading', { name: 'Demo Colocation Tenant GmbH' }).waitFor();
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Seats' }).click();
    await page.getByRole('button', { name: 'Add Seats' }).click();
    await page.getByRole('link', { name: 'sales@demo-hosting.example' }).waitFor();
    await check(page, 'contract-seats');

    // A bill e-mail's portal links open the matching pages: the bill, and paying it.
    // (The seeded contract account's bills went to the same admin: this is the card account's.)
    const plain = stack
      .mails('admin_at_demo.example')
      .map((m) => m.replace(/=\r?\n/g, '').replace(/=3D/g, '='))
      .find((m) => m.includes('Pay in the billing portal') && m.includes('/accounts/acct_demo/bills/'));
    assert.ok(plain, 'a bill mail of the card account went to the admin');
    const billLink = /https?:\/\/127\.0\.0\.1:\d+\/accounts\/acct_demo\/bills\/[A-Za-z0-9_]+/.exec(plain);
    const payLink = /https?:\/\/127\.0\.0\.1:\d+\/accounts\/acct_demo\/billing\?invoice=[A-Za-z0-9_]+/.exec(plain);
    assert.ok(billLink && payLink, 'the bill mail links the bill and the pay page');
    await page.goto(billLink[0]);
    await page.getByTestId('amount-due').waitFor();
    await page.goto(payLink[0]);
    await page.getByRole('heading', { name: 'Pay' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await page.goto(`${stack.base}/accounts/acct_demo`);
    await page.waitForURL(/\/signin\?next=/);
    await ctx.close();
  });

  it('the invited user creates a login with the code from the outbox and joins the account', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await page.goto(`${stack.base}/signin`);
    await page.getByRole('link', { name: 'Create your login' }).click();
    await page.getByLabel('E-mail').fill('new.person@demo.example');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create the login' }).click();
    assert.match(await page.getByRole('alert').innerText(), /12 characters/);
    await check(page, 'signup');
    await page.getByLabel('Password').fill('New-Person-2026');
    await page.getByRole('button', { name: 'Create the login' }).click();
    await page.getByLabel('Code from the e-mail').waitFor();
    const code = await codeFromOutbox('new.person_at_demo.example-verification');
    await page.getByLabel('Code from the e-mail').fill(code === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Confirm and sign in' }).click();
    await page.getByText('That code is not right. Check the e-mail and try again.').waitFor();
    await page.getByLabel('Code from the e-mail').fill(code);
    await page.getByRole('button', { name: 'Confirm and sign in' }).click();
    // Invited as billing by the admin above: the invitation is accepted on this first visit.
    await page.getByRole('heading', { name: 'Demo Hosting Customer Ltd' }).waitFor(WAIT);
    assert.match(await page.locator('.role-badge').innerText(), /Billing/);
    await ctx.close();
  });

  it('every page at 390 px: admin sees all, billing pays but manages no users, viewer only reads', async () => {
    const pages = ['', '/billing', '/bills', '/statement', '/payment-methods', '/settings', '/users', '/seats', '/audit'];
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await signIn(page, ADMIN);
    for (const p of pages) {
      await page.goto(`${stack.base}/accounts/acct_demo${p}`);
      await page.locator('main h1').waitFor();
      await page.locator('main [role=status]').first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
      await check(page, `admin${p.replaceAll('/', '-') || '-overview'}`);
    }
    await page.goto(`${stack.base}/accounts/acct_demo/bills`);
    await page.getByRole('table').locator('tbody a').first().click();
    await page.getByTestId('amount-due').waitFor();
    await check(page, 'admin-bill');
    // The seeded contract account's newest bill: grouped lines, tax per rate with its base.
    await page.goto(`${stack.base}/accounts/acct_democontract/bills`);
    await page.getByRole('table').locator('tbody a').first().click();
    await page.getByTestId('amount-due').waitFor();
    const bill = await text(page);
    assert.match(bill, /Illinois sales tax 6\.25% on/);
    assert.match(bill, /Space lease \(not taxable\) 0% on/);
    assert.match(bill, /Subtotal \(excl\. tax\)/);
    // The group's caption reads on one line at 390 px, not a letter per line.
    const caption = await page.locator('table.stack caption').first().boundingBox();
    assert.ok(caption && caption.width > 200 && caption.height < 60, `caption squeezed: ${JSON.stringify(caption)}`);
    await check(page, 'admin-contract-bill');
    // Its account summary: the second check's 500.00 in, the rest carried forward.
    const summary = await page.getByTestId('account-summary').innerText();
    assert.match(summary, /Payments received\s+-\$500\.00/, summary);
    assert.match(summary, /Balance forward[\s\S]*Total amount due/, summary);
    // The statement of account: every bill and check with the running balance, ending at what
    // the overview says is due; its PDF downloads.
    await page.goto(`${stack.base}/accounts/acct_democontract/statement`);
    await page.getByTestId('closing-balance').waitFor();
    const statement = await text(page);
    assert.match(statement, /Opening balance/);
    assert.match(statement, /Check 2201 for invoice/);
    assert.match(statement, /Check 2245 for invoice/);
    const closing = await page.getByTestId('closing-balance').innerText();
    await check(page, 'admin-contract-statement');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PDF' }).click()]);
    const pdf = readFileSync(await download.path());
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.match(download.suggestedFilename(), /^statement_acct_democontract_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.pdf$/);
    await page.goto(`${stack.base}/accounts/acct_democontract`);
    await page.getByTestId('balance-due').waitFor();
    assert.equal(await page.getByTestId('balance-due').innerText(), closing, 'the statement closes at the balance due');
    await page.goto(`${stack.base}/accounts/acct_democontract/seats`);
    await page.getByRole('button', { name: 'Add Seats' }).waitFor();
    await check(page, 'admin-contract-seats');
    await page.goto(`${stack.base}/`);
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor();
    await check(page, 'admin-accounts');
    for (const [path, name] of [['/password', 'password'], ['/accounts/new', 'create-account']]) {
      for (const viewport of [PHONE, DESKTOP]) {
        await page.setViewportSize(viewport);
        await page.goto(`${stack.base}${path}`);
        await page.locator('main h1').waitFor();
        await check(page, name);
      }
    }
    await page.setViewportSize(PHONE);
    await ctx.close();

    // The pages before signing in, at the desktop width too.
    const out = await (await context(DESKTOP)).newPage();
    for (const [path, name] of [['/signin', 'signin'], ['/signup', 'signup'], ['/forgot', 'forgot']]) {
      await out.goto(`${stack.base}${path}`);
      await out.locator('main h1').waitFor();
      await check(out, name);
    }
    await out.context().close();

    const billing = await (await context(PHONE)).newPage();
    await signIn(billing, BILLING);
    await billing.goto(`${stack.base}/accounts/acct_demo`);
    await billing.getByTestId('balance-due').waitFor();
    assert.equal(await billing.getByRole('link', { name: 'Audit trail' }).count(), 0);
    await billing.goto(`${stack.base}/accounts/acct_demo/users`);
    await billing.getByText('Only admins of this account can invite').waitFor();
    assert.equal(await billing.getByRole('button', { name: 'Send the invitation' }).count(), 0);
    await check(billing, 'billing-users');
    await billing.context().close();

    const viewer = await (await context(PHONE)).newPage();
    await signIn(viewer, VIEWER);
    await viewer.goto(`${stack.base}/accounts/acct_demo/settings`);
    await viewer.getByText(/an admin or billing user of this account can change them/).waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Save address' }).count(), 0);
    assert.ok(await viewer.getByLabel('Address line 1').isDisabled());
    await check(viewer, 'viewer-settings');
    await viewer.goto(`${stack.base}/accounts/acct_demo/payment-methods`);
    await viewer.getByText(/Visa/).first().waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Add a card' }).count(), 0);
    await viewer.goto(`${stack.base}/accounts/acct_demo/seats`);
    await viewer.getByTestId('seat-count').waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Preview the change' }).count(), 0);
    await check(viewer, 'viewer-seats');
    await viewer.context().close();
  });

  it('a new user with no account creates one', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await signIn(page, NEWCOMER);
    await page.getByText('You are not a member of any account yet').waitFor();
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Company or account name').fill('Newcomer Labs');
    await page.getByLabel('Name', { exact: true }).fill('Nia Newcomer');
    await page.getByLabel('Address line 1').fill('1 Start Street');
    await page.getByLabel('City').fill('Austin');
    await page.getByLabel('Country (2 letters)').fill('XX');
    await page.getByRole('button', { name: 'Create the account' }).click();
    const countryError = page.locator('.field-invalid', { has: page.getByLabel('Country (2 letters)') }).locator('.field-error');
    await countryError.waitFor();
    await check(page, 'create-account-error');
    await page.getByLabel('Country (2 letters)').fill('US');
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Newcomer Labs' }).waitFor(WAIT);
    assert.equal(await page.getByTestId('balance-due').innerText(), '$0.00');
    assert.match(page.url(), /\/accounts\/acct_[a-z0-9]+$/);
    await ctx.close();
  });

  it('forgot password with the code from the outbox, then change it again when signed in', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await page.goto(`${stack.base}/signin`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('E-mail').fill(VIEWER[0]);
    await page.getByRole('button', { name: 'Send the code' }).click();
    await page.getByLabel('Code from the e-mail').waitFor();
    await check(page, 'forgot');
    const code = await codeFromOutbox('viewer_at_demo.example-password-reset');
    await page.getByLabel('Code from the e-mail').fill(code === '000000' ? '111111' : '000000');
    await page.getByLabel('New password').fill('Viewer-Reset-2026');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByText('That code is not right. Check the e-mail and try again.').waitFor();
    await page.getByLabel('Code from the e-mail').fill(code);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByText('Your password was changed. Sign in with the new one.').waitFor();
    await page.getByLabel('E-mail').fill(VIEWER[0]);
    await page.getByLabel('Password').fill('Viewer-Reset-2026');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);

    await page.goto(`${stack.base}/password`);
    await page.getByLabel('Current password').fill('Viewer-Reset-2026');
    await page.getByLabel('New password').fill('Viewer-Again-2026');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password was changed.').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, [VIEWER[0], 'Viewer-Again-2026']);
    await ctx.close();
  });
});

/** The stand-in's Cognito through the gateway, as the app's own auth client (Amplify) uses it:
 * SRP proves the password, tokens refresh and are accepted by the API, sign-out revokes. */
describe('sign-in as Amplify does it', { concurrency: false }, () => {
  it('SRP with the right password only, refresh, and revocation at sign-out', async () => {
    const config = await (await fetch(`${stack.base}/config.json`)).json();
    const auth = {
      Cognito: {
        userPoolId: config.cognito.userPoolId,
        userPoolClientId: config.cognito.userPoolClientId,
        userPoolEndpoint: new URL(config.cognito.userPoolEndpoint, stack.base).toString(),
        loginWith: { email: true },
      },
    };
    cognitoUserPoolsTokenProvider.setAuthConfig(auth);
    Amplify.configure({ Auth: auth }, { Auth: { tokenProvider: cognitoUserPoolsTokenProvider } });
    await assert.rejects(amplifySignIn({ username: BILLING[0], password: 'Not-The-Password-1' }), { name: 'NotAuthorizedException' });
    assert.equal((await amplifySignIn({ username: BILLING[0], password: BILLING[1] })).isSignedIn, true);
    const first = (await fetchAuthSession()).tokens.idToken.toString();
    const refreshed = (await fetchAuthSession({ forceRefresh: true })).tokens.idToken.toString();
    assert.notEqual(refreshed, first);
    const me = await fetch(`${stack.base}/v1/me`, { headers: { authorization: `Bearer ${refreshed}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).user.email, BILLING[0]);
    // A customer's token does not open the back office: every route of its document (each
    // method, path parameters filled in) is refused at the gateway, before any function.
    const staffDoc = JSON.parse(readFileSync(join(repo, 'docs/staff-openapi.json'), 'utf8'));
    let refused = 0;
    for (const [path, ops] of Object.entries(staffDoc.paths)) {
      for (const method of Object.keys(ops)) {
        const url = `${stack.base}${path.replace(/\{date\}/g, '2026-12-01').replace(/\{[a-z_]+\}/g, 'x1')}`;
        const body = ['post', 'put'].includes(method) ? '{}' : undefined;
        const r = await fetch(url, { method: method.toUpperCase(), body, headers: { authorization: `Bearer ${refreshed}`, 'content-type': 'application/json', 'reason-code': 'other', 'reason-text': 'x' } });
        assert.equal(r.status, 401, `a customer token on ${method} ${path}`);
        refused += 1;
      }
    }
    assert.ok(refused >= 30, `${refused} staff routes tried`);
    await amplifySignOut();
    assert.equal((await fetchAuthSession()).tokens, undefined);
  });

  it('back office: a clerk records a check and asks for a credit note over the limit, a second person approves it, the customer sees both', async () => {
    // The clerk, on a phone.
    const clerkCtx = await context(PHONE);
    const clerk = await clerkCtx.newPage();
    await clerk.goto(`${stack.base}/staff`);
    await clerk.getByRole('heading', { name: 'Staff sign-in' }).waitFor(WAIT);
    await check(clerk, 'staff-signin');
    await signInHere(clerk, CLERK);
    await clerk.getByRole('heading', { name: 'Accounts', level: 1 }).waitFor();
    await check(clerk, 'staff-home');
    // Found by the start of its name, whatever the case.
    await clerk.getByLabel('Find an account').fill('demo colo');
    await clerk.getByRole('button', { name: 'Search' }).click();
    await clerk.getByTestId('search-results').getByRole('link', { name: 'Demo Colocation Tenant GmbH' }).waitFor();
    await check(clerk, 'staff-search');
    await clerk.getByTestId('search-results').getByRole('link', { name: 'Demo Colocation Tenant GmbH' }).click();
    await clerk.getByTestId('staff-balance').waitFor();
    const before = cents(await clerk.getByTestId('staff-balance').innerText());
    await check(clerk, 'staff-account');

    // A mailed check of 100.00 on the first open bill.
    const record = clerk.getByRole('region', { name: 'Record a check' });
    await record.getByLabel('Amount').fill('100.00');
    await record.getByLabel('Check number').fill('3101');
    await record.getByLabel('Reason, in words').fill('check 3101 in the lockbox mail');
    await record.getByRole('button', { name: 'Record the check' }).click();
    await record.getByRole('status').filter({ hasText: 'Check 3101 recorded' }).waitFor();
    await clerk.waitForFunction(
      (was) => Math.round(Number(document.querySelector('[data-testid=staff-balance]').textContent.replace(/[^0-9.-]/g, '')) * 100) !== was,
      before,
    );
    assert.equal(cents(await clerk.getByTestId('staff-balance').innerText()), before - 10000);
    assert.match(await clerk.getByTestId('staff-audit').innerText(), /clerk@seller\.example, invoice payment recorded \(payment received: check 3101/);

    // A credit note of 600.00: over the limit, so it only waits.
    const note = clerk.getByRole('region', { name: 'Credit note' });
    await note.getByLabel('Amount').fill('600.00');
    await note.getByLabel('What the credit note says').fill('Rack A14 power outage, 3 days');
    await note.getByLabel('Reason, in words').fill('outage ticket 4411');
    await note.getByRole('button', { name: 'Issue the credit note' }).click();
    await note.getByRole('status').filter({ hasText: 'waits for a second person' }).waitFor();
    assert.equal(cents(await clerk.getByTestId('staff-balance').innerText()), before - 10000, 'nothing credited yet');
    await check(clerk, 'staff-account-after');
    // The clerk sees the queue but may not decide.
    await clerk.goto(`${stack.base}/staff/approvals`);
    await clerk.getByTestId('approvals').waitFor();
    assert.equal(await clerk.getByRole('button', { name: 'Approve' }).count(), 0, 'a clerk does not approve');
    await check(clerk, 'staff-approvals-clerk');

    // An approver, at a desk, approves it.
    const approverCtx = await context(DESKTOP);
    const approver = await approverCtx.newPage();
    await approver.goto(`${stack.base}/staff/approvals`);
    await signInHere(approver, APPROVER);
    await approver.getByTestId('approvals').waitFor();
    const card = approver.getByRole('listitem').filter({ hasText: 'Rack A14 power outage' });
    assert.match(await card.innerText(), /Asked by clerk@seller\.example/);
    await check(approver, 'staff-approvals');
    await card.getByLabel('Note (needed to reject)').fill('matches the outage log');
    await card.getByRole('button', { name: 'Approve' }).click();
    await approver.getByText(/Nothing is waiting|Approved: credit note CN-/).first().waitFor();
    await approver.goto(`${stack.base}/staff/accounts/acct_democontract`);
    await approver.getByTestId('staff-balance').waitFor();
    const after = cents(await approver.getByTestId('staff-balance').innerText());
    assert.equal(after, before - 10000 - 60000, 'the approved credit note lowers the balance');
    assert.match(await approver.getByTestId('staff-audit').innerText(), /approver@seller\.example, invoice credit note issued \(service credit: outage ticket 4411\)/);
    await check(approver, 'staff-account-desk');

    // Receivables, aged, at both widths; the CSV parses and names the account.
    await approver.goto(`${stack.base}/staff/receivables`);
    await approver.getByTestId('aging').waitFor();
    assert.match(await approver.getByTestId('aging').innerText(), /Demo Colocation Tenant GmbH/);
    await check(approver, 'staff-receivables');
    const [csvFile] = await Promise.all([approver.waitForEvent('download'), approver.getByRole('button', { name: 'Download CSV' }).click()]);
    const rows = readFileSync(await csvFile.path(), 'utf8').trim().split(/\r?\n/);
    assert.match(rows[0], /^account_id,/, rows[0]);
    assert.ok(rows.some((r) => r.startsWith('acct_democontract,')), rows.join('\n'));
    await clerk.goto(`${stack.base}/staff/receivables`);
    await clerk.getByTestId('aging').waitFor();
    await check(clerk, 'staff-receivables');

    // The customer's portal shows the new balance.
    const customerCtx = await context(PHONE);
    const customer = await customerCtx.newPage();
    await signIn(customer, ADMIN);
    await customer.goto(`${stack.base}/accounts/acct_democontract`);
    await customer.getByTestId('balance-due').waitFor();
    assert.equal(cents(await customer.getByTestId('balance-due').innerText()), after);
    for (const c of [clerkCtx, approverCtx, customerCtx]) await c.close();
  });

  it('back office: an admin imports a tenant and invites its user, a clerk drafts the bill run, an approver approves and finalizes it, the new user signs in and sees the bill', async () => {
    const firstOfMonth = new Date().toISOString().slice(0, 8) + '01';
    // The admin, at a desk: a cohort and one account imported into it (its first bill is due).
    const adminCtx = await context(DESKTOP);
    const admin = await adminCtx.newPage();
    await admin.goto(`${stack.base}/staff/catalog`);
    await signInHere(admin, STAFF_ADMIN);
    await admin.getByTestId('prices').waitFor();
    assert.match(await admin.getByTestId('prices').innerText(), /Rack space, 42U/);
    const cohort = admin.getByRole('region', { name: 'Add or change a cohort' });
    await cohort.getByLabel('Cohort id').fill('harbor-colo');
    await cohort.getByLabel('Name', { exact: true }).fill('Harbor colocation');
    await cohort.getByLabel('Go-live').fill(firstOfMonth);
    await cohort.getByLabel('Reason, in words').fill('new tenant signed');
    await cohort.getByRole('button', { name: 'Save the cohort' }).click();
    await cohort.getByRole('status').filter({ hasText: 'Cohort harbor-colo saved' }).waitFor();
    const line = {
      account_id: 'acct_harborracks', name: 'Harbor Racks Ltd', currency: 'USD',
      contact: { name: 'Accounts payable', email: 'ap@harbor.example' },
      address: { line1: '9 Quay St', city: 'Springfield', region: 'IL', postal_code: '62701', country: 'US' },
      billing_mode: 'invoice', bill_day: 1,
      subscriptions: [{ id: 'h1-rack', price_id: 'demo_rack', group: 'Springfield DC / Cage 9', start: firstOfMonth, quantity: 2 }],
    };
    const importer = admin.getByRole('region', { name: 'Import accounts' });
    await importer.getByLabel('Into the cohort').selectOption('harbor-colo');
    await importer.getByLabel('Accounts, one JSON line each').fill(`${JSON.stringify(line)}\n{"account_id": "acct_broken"}`);
    await importer.getByLabel('Reason, in words').fill('new tenant signed');
    await importer.getByRole('button', { name: 'Import' }).click();
    const report = admin.getByTestId('import-report');
    await report.waitFor();
    assert.match(await report.innerText(), /1 imported, 0 existing, 1 rejected/);
    assert.match(await report.innerText(), /Line 2: Rejected/);
    await check(admin, 'staff-catalog');
    // The tenant's first user, invited from the console.
    await report.getByRole('link', { name: 'acct_harborracks' }).click();
    await admin.getByTestId('staff-balance').waitFor();
    const add = admin.getByRole('region', { name: 'Add a user' });
    await add.getByLabel('Their e-mail').fill('owner@harbor.example');
    await add.getByLabel('Role').selectOption('admin');
    await add.getByLabel('Reason, in words').fill('ticket 5120: first user');
    await add.getByRole('button', { name: 'Invite' }).click();
    await admin.getByTestId('staff-members').filter({ hasText: 'owner@harbor.example' }).waitFor();
    assert.match(await admin.getByTestId('staff-audit').innerText(), /admin@seller\.example, member invited \(customer request: ticket 5120/);
    await check(admin, 'staff-account-members');
    for (const [path, what] of [['/staff/settings', 'reminder-schedule'], ['/staff/parked-events', null]]) {
      await admin.goto(`${stack.base}${path}`);
      await admin.locator('main h1').waitFor();
      if (what) await admin.getByTestId(what).waitFor();
      await check(admin, `staff${path.replaceAll('/', '-').replace('-staff', '')}`);
    }

    // The clerk, on a phone: finds it by its contact's e-mail, previews the run, makes the drafts.
    const clerkCtx = await context(PHONE);
    const clerk = await clerkCtx.newPage();
    await clerk.goto(`${stack.base}/staff`);
    await signInHere(clerk, CLERK);
    await clerk.getByLabel('Find an account').fill('AP@harbor.example');
    await clerk.getByRole('button', { name: 'Search' }).click();
    assert.match(await clerk.getByTestId('search-results').innerText(), /Harbor Racks Ltd\s+acct_harborracks, by e-mail/);
    await clerk.goto(`${stack.base}/staff/bill-runs`);
    const lines = clerk.getByTestId('run-lines');
    await lines.waitFor();
    const harbor = lines.getByRole('row').filter({ hasText: 'Harbor Racks Ltd' });
    assert.match(await harbor.innerText(), /Would bill[\s\S]*\$1,300\.00[\s\S]*First bill/);
    await check(clerk, 'staff-bill-run-preview');
    const drafts = clerk.getByRole('region', { name: 'Make the drafts' });
    await drafts.getByLabel('Reason, in words').fill('December bill day');
    await drafts.getByRole('button', { name: 'Make the drafts' }).click();
    await clerk.getByRole('status').filter({ hasText: 'waiting for approval' }).waitFor();
    assert.match(await harbor.innerText(), /Drafted/);
    await clerk.getByText('You made these drafts: another approver approves them.').waitFor();
    assert.equal(await clerk.getByRole('button', { name: 'Approve the drafts' }).count(), 0, 'a clerk does not approve');
    await check(clerk, 'staff-bill-run-drafted');

    // The approver, at a desk: approves, then finalizes; the report names the bill's number.
    const approverCtx = await context(DESKTOP);
    const approver = await approverCtx.newPage();
    await approver.goto(`${stack.base}/staff/bill-runs`);
    await signInHere(approver, APPROVER);
    const approve = approver.getByRole('region', { name: 'Approve the drafts' });
    await approve.getByLabel('Reason, in words').fill('totals checked');
    await approve.getByRole('button', { name: 'Approve the drafts' }).click();
    await approver.getByRole('status').filter({ hasText: 'Approved: the drafts may be finalized' }).waitFor();
    const finalize = approver.getByRole('region', { name: 'Finalize' });
    await finalize.getByLabel('Reason, in words').fill('December bill day');
    await finalize.getByRole('button', { name: 'Finalize the approved drafts' }).click();
    await approver.getByRole('status').filter({ hasText: /1 bill finalized, \$1,300\.00/ }).waitFor();
    const billed = approver.getByTestId('run-lines').getByRole('row').filter({ hasText: 'Harbor Racks Ltd' });
    const number = /Finalized (INV-\d+)/.exec(await billed.innerText())?.[1];
    assert.ok(number, await billed.innerText());
    assert.match(await approver.getByTestId('runs').innerText(), /finalized/i);
    await check(approver, 'staff-bill-run-finalized');
    await approver.goto(`${stack.base}/staff/audit`);
    const trail = await approver.getByTestId('seller-audit').innerText();
    assert.match(trail, /approver@seller\.example, bill run finalized \d{4}-\d{2}-\d{2} \(other: December bill day\)/);
    assert.match(trail, /admin@seller\.example, catalog cohort saved harbor-colo \(configuration: new tenant signed\)/);
    await check(approver, 'staff-audit');

    // The invited user creates a login and sees the bill in the portal.
    const userCtx = await context(PHONE);
    const user = await userCtx.newPage();
    await user.goto(`${stack.base}/signin`);
    await user.getByRole('link', { name: 'Create your login' }).click();
    await user.getByLabel('E-mail').fill('owner@harbor.example');
    await user.getByLabel('Password').fill('Harbor-Owner-2026');
    await user.getByRole('button', { name: 'Create the login' }).click();
    await user.getByLabel('Code from the e-mail').waitFor();
    await user.getByLabel('Code from the e-mail').fill(await codeFromOutbox('owner_at_harbor.example-verification'));
    await user.getByRole('button', { name: 'Confirm and sign in' }).click();
    await user.getByRole('heading', { name: 'Harbor Racks Ltd' }).waitFor(WAIT);
    await user.goto(`${stack.base}/accounts/acct_harborracks/bills`);
    await user.getByRole('table').getByText(number).waitFor();
    await check(user, 'harbor-bills');
    for (const c of [adminCtx, clerkCtx, approverCtx, userCtx]) await c.close();
  });

  it('back office: a lockbox file applies a check by its bill number; the unidentified one is applied by hand', async () => {
    // The bank's file, written here from docs/lockbox.md's columns: one batch, two checks.
    const pad = (v, n, c = '0') => String(v).padStart(n, c);
    const right = (v, n) => String(v).padEnd(n, ' ');
    const lines = ['100ATMOSERA  01210002482612040630', '2ATMOSERA 121000248  000000000040010408001', '50010000002712261204ATMOSERA 121000248'];
    lines.push(`6001001${pad(10000, 10)}${right('055002707', 9)}${right('0012345555', 10)}${pad(9001, 10)}120126${right('DEMO COLOCATION TENANT', 30)}ATMOSERA INC`);
    lines.push(`40010014019${right('INV-000003', 16)}${pad(10000, 10)}0000000000`);
    lines.push(`6001002${pad(5000, 10)}${right('011000015', 9)}${right('9900000001', 10)}${pad(77, 10)}120126${right('DEMO COLO AP DEPT', 30)}ATMOSERA INC`);
    lines.push(`70010000002712261204002${pad(15000, 10)}`);
    lines.push(`80000000002712261204${pad(2, 4)}${pad(15000, 10)}`);
    lines.push(`9${pad(lines.length + 1, 6)}`);
    const body = lines.join('\n') + '\n';

    const ctx = await context(PHONE);
    const clerk = await ctx.newPage();
    await clerk.goto(`${stack.base}/staff/accounts/acct_democontract`);
    await signInHere(clerk, CLERK);
    await clerk.getByTestId('staff-balance').waitFor();
    const before = cents(await clerk.getByTestId('staff-balance').innerText());
    await clerk.goto(`${stack.base}/staff/lockbox`);
    const upload = clerk.getByRole('region', { name: "Import the bank's file" });
    await upload.getByLabel('Lockbox file (BAI)').setInputFiles({ name: 'lbx-20261204.txt', mimeType: 'text/plain', buffer: Buffer.from(body) });
    await upload.getByLabel('Reason, in words').fill('the bank file of the 4th');
    await upload.getByRole('button', { name: 'Import' }).click();
    const report = clerk.getByTestId('lockbox-report');
    await report.waitFor();
    assert.match(await report.innerText(), /2 checks, \$150\.00: 1 applied, 1 waiting for you/);
    assert.match(await report.innerText(), /Check 9001 .* naming INV-000003: Applied to acct_democontract \(by invoice\): \$100\.00 on INV-000003/);
    await check(clerk, 'staff-lockbox');
    // The second check: nothing tells whose it is; the clerk knows (the tenant's AP department).
    const waiting = clerk.getByTestId('lockbox-exceptions').getByRole('listitem').filter({ hasText: 'DEMO COLO AP DEPT' });
    assert.match(await waiting.innerText(), /Nothing tells whose check it is/);
    await waiting.getByLabel('Whose check is it (account id)').fill('acct_democontract');
    await waiting.getByLabel('Reason, in words').fill('AP department of Demo Colocation');
    await waiting.getByRole('button', { name: 'Apply to the account' }).click();
    await clerk.getByText('Nothing is waiting.').waitFor();
    await clerk.goto(`${stack.base}/staff/accounts/acct_democontract`);
    await clerk.getByTestId('staff-balance').waitFor();
    assert.equal(cents(await clerk.getByTestId('staff-balance').innerText()), before - 15000, 'both checks applied');
    assert.match(await clerk.getByTestId('staff-audit').innerText(), /lockbox check applied \(payment received: AP department of Demo Colocation\)/);
    // The same file again applies nothing.
    await clerk.goto(`${stack.base}/staff/lockbox`);
    await upload.getByLabel('Lockbox file (BAI)').setInputFiles({ name: 'again.txt', mimeType: 'text/plain', buffer: Buffer.from(body) });
    await upload.getByLabel('Reason, in words').fill('sent twice by the bank');
    await upload.getByRole('button', { name: 'Import' }).click();
    await clerk.getByTestId('lockbox-report').getByText(/This file came before/).waitFor();
    // The bank returns check 9001 unpaid: the clerk takes it back on the account's page.
    await clerk.goto(`${stack.base}/staff/accounts/acct_democontract`);
    const returned = clerk.getByRole('region', { name: 'Returned check' });
    const which = returned.getByLabel('Check', { exact: true });
    await which.selectOption(await which.locator('option', { hasText: 'check 9001' }).getAttribute('value'));
    await returned.getByLabel('Why the bank returned it').selectOption('insufficient_funds');
    await returned.getByLabel('Reason, in words').fill('NSF notice from the bank');
    await returned.getByRole('button', { name: 'Take the check back' }).click();
    await returned.getByText(/\$100\.00 taken back: INV-000003 owed again/).waitFor();
    await clerk.getByTestId('staff-payments').getByText(/Returned .*Insufficient funds/).waitFor();
    assert.equal(cents(await clerk.getByTestId('staff-balance').innerText()), before - 5000, 'only the returned check is owed again');
    await check(clerk, 'staff-returned-check');
    // The bank's BAI2 report (written by the PyPI bai2 package) returns check 77 too: uploaded,
    // it is found by number and amount and taken back.
    const today = new Date().toISOString().slice(0, 10);
    const spec = { as_of: today, bank_account: '4000123456', deposits: [{ amount: 15000, bank_reference: 'LBX-0002712' }], returns: [{ amount: 5000, check_number: '77', bank_reference: 'RET-9', text: 'RETURNED ITEM STOP PAYMENT' }] };
    const bai2 = execFileSync(join(repo, '.venv/stack/bin/python'), [join(repo, 'tests/fixtures/make_bai2.py')], { input: JSON.stringify(spec) });
    await clerk.goto(`${stack.base}/staff/lockbox`);
    await upload.getByLabel('Lockbox file (BAI)').setInputFiles({ name: 'bai2-today.txt', mimeType: 'text/plain', buffer: bai2 });
    await upload.getByLabel('Reason', { exact: true }).selectOption('payment_returned');
    await upload.getByLabel('Reason, in words').fill('the bank report of today');
    await upload.getByRole('button', { name: 'Import' }).click();
    const bank = clerk.getByTestId('lockbox-report');
    await bank.getByText(/BAI2 report: 1 returned check taken back, 0 to look into/).waitFor();
    assert.match(await bank.innerText(), /Deposit LBX-0002712 .*\$150\.00: the lockbox file lbx-20261204\.txt/);
    assert.match(await bank.innerText(), /Returned check 77, \$50\.00 \(stop payment\): taken back from acct_democontract: INV-000002 owed again/);
    await check(clerk, 'staff-lockbox-bai2');
    await ctx.close();
  });
});

/** Navigation to the overview showing the balance, with Chromium's CPU slowed 4×, beside loading a
 * static page of the same size from the same server. A benchmark, not a timed test: it reports
 * (target/artifacts/web/timings.json) and asserts only that both were measured. */
describe('benchmark: time to the balance', { concurrency: false }, () => {
  it('measures the overview against a static page of the same size (CPU 4× slower)', async () => {
    const signed = await context(DESKTOP);
    await signIn(await signed.newPage(), BILLING);
    const state = await signed.storageState();
    await signed.close();
    const run = async (url, ready) => {
      const ctx = await browser.newContext({ viewport: DESKTOP, storageState: state });
      const page = await ctx.newPage();
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      const t0 = performance.now();
      await page.goto(url, { waitUntil: 'commit' });
      await page.locator(ready).waitFor(WAIT);
      const ms = performance.now() - t0;
      await ctx.close();
      return ms;
    };
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const app = [];
    const baseline = [];
    for (let i = 0; i < 7; i++) {
      baseline.push(await run(`${stack.base}/bench-static.html`, '#ready'));
      app.push(await run(`${stack.base}/accounts/acct_demo`, '[data-testid=balance-due]'));
    }
    const result = {
      cpu_throttling: 4,
      runs: app.length,
      overview_balance_ms_median: Math.round(median(app)),
      static_same_size_ms_median: Math.round(median(baseline)),
      ratio: Number((median(app) / median(baseline)).toFixed(2)),
      overview_ms: app.map(Math.round),
      static_ms: baseline.map(Math.round),
    };
    writeFileSync(join(ARTIFACTS, 'timings.json'), JSON.stringify(result, null, 2));
    console.log(`time to the balance (CPU ×4): ${result.overview_balance_ms_median} ms; static page of the same size: ${result.static_same_size_ms_median} ms (${result.ratio}×)`);
    assert.equal(app.length, 7);
  });
});
