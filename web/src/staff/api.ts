/** The back office API, typed from docs/staff-openapi.json (`npm run gen:api` writes ./schema.d.ts). */
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { idToken } from '../auth';

export type StaffSchemas = components['schemas'];
export type ReasonCode = StaffSchemas['ReasonCode'];

export const staffApi = createClient<paths>({ baseUrl: '' });

staffApi.use({
  async onRequest({ request }) {
    const token = await idToken();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
});

/** The reasons a staff change gives, as the list reads to a person. */
export const REASONS: [ReasonCode, string][] = [
  ['payment_received', 'Payment received'],
  ['payment_returned', 'Payment returned by the bank'],
  ['billing_error', 'Billing error'],
  ['service_credit', 'Service credit (outage, SLA)'],
  ['goodwill', 'Goodwill'],
  ['duplicate', 'Charged twice'],
  ['customer_request', 'Customer request'],
  ['write_off', 'Write-off'],
  ['configuration', 'Configuration'],
  ['other', 'Other (say what)'],
];

/** The headers a write carries: its reason code and the person's words. */
export function reason(code: ReasonCode, text: string) {
  return { 'Reason-Code': code, 'Reason-Text': encodeURIComponent(text.trim()) };
}
