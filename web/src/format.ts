import type { components } from './api/schema';

export type Money = components['schemas']['Money'];

/** The user's locale (the browser's), overridable for tests. */
export function locale(): string | undefined {
  return typeof navigator === 'undefined' ? undefined : navigator.language;
}

/** An amount from the API's decimal string, in the currency's own decimals and the user's locale.
 * The string goes to Intl as it is (never through a float), so 0.1 + 0.2 problems cannot arise. */
export function money(m: Money, loc = locale()): string {
  const f = new Intl.NumberFormat(loc, { style: 'currency', currency: m.currency });
  // Intl.NumberFormat formats a decimal string exactly (ECMA-402 "StringNumericLiteral").
  return f.format(m.amount as unknown as number);
}

/** Whether an API amount is zero, read from its decimal string. */
export function isZero(m: Money): boolean {
  return /^[-+]?0*(\.0*)?$/.test(m.amount);
}

/** Whether an API amount is above zero (something is owed), read from its decimal string. */
export function isPositive(m: Money): boolean {
  return !m.amount.trim().startsWith('-') && !isZero(m);
}

export function date(iso: string | null | undefined, loc = locale()): string {
  if (!iso) return '';
  return new Intl.DateTimeFormat(loc, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso));
}

export function dateTime(iso: string | null | undefined, loc = locale()): string {
  if (!iso) return '';
  return new Intl.DateTimeFormat(loc, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** A service period as people read it: its first and last day, both inclusive, as the API gives
 * them (a month stored as Dec 1 – Jan 1 reads Dec 1 – Dec 31; the API owns that rule). */
export function period(p: components['schemas']['PeriodView'], loc = locale()): string {
  return `${date(p.first_day, loc)} – ${date(p.last_day, loc)}`;
}

const KIND: Record<components['schemas']['ChargeKind'], string> = {
  recurring: 'Recurring',
  one_time: 'One-time',
  usage: 'Usage',
  overage: 'Overage',
  proration: 'Proration',
};
export const chargeKind = (k: components['schemas']['ChargeKind']): string => KIND[k] ?? k;

const STATUS: Record<components['schemas']['InvoiceStatus'], string> = {
  draft: 'Draft',
  open: 'Open',
  paid: 'Paid',
  uncollectible: 'Uncollectible',
  void: 'Void',
};
export const invoiceStatus = (s: components['schemas']['InvoiceStatus']): string => STATUS[s] ?? s;

export function cardLabel(m: components['schemas']['PaymentMethodView']): string {
  const brand = m.brand ? m.brand.charAt(0).toUpperCase() + m.brand.slice(1) : m.type;
  const last4 = m.last4 ? ` •••• ${m.last4}` : '';
  const exp = m.exp_month && m.exp_year ? `, expires ${String(m.exp_month).padStart(2, '0')}/${m.exp_year}` : '';
  return `${brand}${last4}${exp}`;
}
