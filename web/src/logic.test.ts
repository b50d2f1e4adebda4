import { describe, expect, it } from 'vitest';
import { cardLabel, isPositive, isZero, money, period } from './format';
import { parseConfig } from './config';
import { failure } from './api/client';
import { authMessage } from './auth';
import { safeNext } from './pages/auth';
import { parseQuantity } from './pages/seats';

// Intl separates some currency codes and symbols with a no-break space.
const m = (amount: string, currency: string, loc: string) => money({ amount, currency }, loc).replace(/\u00a0/g, ' ');

describe('money', () => {
  it("shows the currency's own decimals in the user's locale", () => {
    expect(m('1234.5', 'USD', 'en-US')).toBe('$1,234.50');
    expect(m('12000', 'JPY', 'en-US')).toBe('¥12,000');
    expect(m('1.250', 'KWD', 'en-US')).toBe('KWD 1.250');
    expect(m('1234.5', 'EUR', 'de-DE')).toBe('1.234,50 €');
    expect(m('-60.00', 'USD', 'en-US')).toBe('-$60.00');
  });

  it('formats the decimal string exactly, never through a float', () => {
    // 2^53 + 1 is not a double; a float would print ...992.
    expect(m('9007199254740993.00', 'USD', 'en-US')).toBe('$9,007,199,254,740,993.00');
    expect(m('0.30', 'USD', 'en-US')).toBe('$0.30');
  });

  it('tells zero and owed amounts from the string', () => {
    expect(isZero({ amount: '0.00', currency: 'USD' })).toBe(true);
    expect(isZero({ amount: '0', currency: 'JPY' })).toBe(true);
    expect(isZero({ amount: '0.01', currency: 'USD' })).toBe(false);
    expect(isPositive({ amount: '24.00', currency: 'USD' })).toBe(true);
    expect(isPositive({ amount: '-5.00', currency: 'USD' })).toBe(false);
    expect(isPositive({ amount: '0.000', currency: 'KWD' })).toBe(false);
  });
});

describe('dates', () => {
  it("shows a period's last day, not the next period's first midnight", () => {
    const december = { start: '2026-12-01T00:00:00Z', end: '2027-01-01T00:00:00Z', first_day: '2026-12-01', last_day: '2026-12-31' };
    expect(period(december, 'en-US')).toBe('Dec 1, 2026 – Dec 31, 2026');
  });
});

describe('cards', () => {
  it('reads as a person says it', () => {
    expect(cardLabel({ id: 'pm_1', type: 'card', brand: 'visa', last4: '4242', exp_month: 3, exp_year: 2030, default: true })).toBe(
      'Visa •••• 4242, expires 03/2030',
    );
    expect(cardLabel({ id: 'pm_2', type: 'sepa_debit', default: false })).toBe('sepa_debit');
  });
});

describe('config.json', () => {
  it('resolves a same-origin Cognito endpoint and needs the pool', () => {
    const c = parseConfig({ cognito: { userPoolId: 'us-east-1_x', userPoolClientId: 'c', userPoolEndpoint: '/cognito' } }, 'http://127.0.0.1:3000');
    expect(c.cognito.userPoolEndpoint).toBe('http://127.0.0.1:3000/cognito');
    expect(c.sellerName).toBe('Billing');
    expect(parseConfig({ cognito: { userPoolId: 'p', userPoolClientId: 'c' } }, 'https://x').cognito.userPoolEndpoint).toBeUndefined();
    expect(() => parseConfig({}, 'https://x')).toThrow(/userPoolId/);
  });
});

describe('API failures', () => {
  it("keeps the API's code, field details and contact", () => {
    const f = failure(422, {
      error: { code: 'validation_failed', message: 'invalid input', details: [{ field: 'billing_address.country', message: 'must be an ISO 3166-1 alpha-2 country code' }] },
    });
    expect(f.code).toBe('validation_failed');
    expect(f.field('billing_address.country')).toMatch(/ISO 3166-1/);
    expect(f.field('city')).toBeUndefined();
    const sales = failure(409, { error: { code: 'contact_sales', message: 'billed by contract', contact: 'sales@x.example' } });
    expect(sales.contact).toBe('sales@x.example');
  });

  it('explains answers without a body', () => {
    expect(failure(401, null).code).toBe('unauthenticated');
    expect(failure(503, { message: 'Service Unavailable' }).message).toMatch(/Try again/);
    expect(failure(418, 'teapot').code).toBe('unknown');
  });
});

describe('sign-in', () => {
  it("words Cognito's errors for people", () => {
    expect(authMessage({ name: 'NotAuthorizedException', message: 'Incorrect username or password.' })).toBe('Wrong e-mail or password.');
    expect(authMessage({ name: 'CodeMismatchException' })).toMatch(/code is not right/);
    expect(authMessage({ name: 'ExpiredCodeException' })).toMatch(/expired/);
    expect(authMessage({ name: 'InvalidPasswordException' })).toMatch(/12 characters/);
    expect(authMessage({ name: 'Whatever', message: 'Something odd' })).toBe('Something odd');
  });

  it('returns only to pages of this site after signing in', () => {
    expect(safeNext('/accounts/acct_demo/bills')).toBe('/accounts/acct_demo/bills');
    expect(safeNext('//evil.example/x')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('/signin?next=/x')).toBe('/');
    expect(safeNext(undefined)).toBe('/');
  });
});

describe('seat quantities', () => {
  it('takes whole numbers of at least one', () => {
    expect(parseQuantity(' 8 ')).toEqual({ ok: true, value: 8 });
    expect(parseQuantity('0').ok).toBe(false);
    expect(parseQuantity('2.5').ok).toBe(false);
    expect(parseQuantity('five').ok).toBe(false);
    expect(parseQuantity('-3').ok).toBe(false);
  });
});
