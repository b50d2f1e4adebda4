/** The seller's setup in the back office: the catalog's prices, cohorts and their import (with
 * the report of each line), the payment reminders' schedule, and Stripe events parked because
 * no account is linked to their customer. Everyone reads; admins change the catalog and the
 * schedule, approvers discard parked events. */
import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { date, dateTime } from '../format';
import { Alert, Button, Failure, Field, PageTitle, Select, Show, useAction, useLoad } from '../ui';
import { type StaffSchemas, staffApi } from './api';
import { Form, type Me, accountPath, can, TextArea, useReason, words } from './common';

type Price = StaffSchemas['Price'];

/** A price's charge model in a few words. */
function model(p: Price): string {
  const unit = p.unit ? ` per ${p.unit}` : '';
  switch (p.model) {
    case 'flat':
      return `flat ${p.amount} ${p.currency}`;
    case 'per_unit':
      return `${p.unit_amount} ${p.currency}${unit}`;
    case 'overage':
      return `${p.included} included, then ${p.unit_amount} ${p.currency}${unit}`;
    case 'graduated':
    case 'volume':
      return `${p.model}, ${p.tiers.length} tiers`;
  }
}

const charge = (p: Price) => (p.charge.type === 'recurring' ? `recurring, ${p.charge.interval}` : words(p.charge.type));

const PRICE_EXAMPLE = `{"id": "rack_42u", "name": "Rack space, 42U", "currency": "USD",
 "charge": {"type": "recurring", "interval": "monthly"},
 "model": "per_unit", "unit_amount": "650.00", "unit": "rack"}`;

const LINE_EXAMPLE = `{"account_id": "acct_newtenant", "name": "New Tenant LLC", "currency": "USD",
 "contact": {"name": "Accounts payable", "email": "ap@newtenant.example"},
 "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "62702", "country": "US"},
 "billing_mode": "invoice", "bill_day": 1,
 "subscriptions": [{"id": "rack-1", "price_id": "rack_42u", "group": "DC1 / Cage 1", "start": "2026-12-01", "quantity": 1}]}`;

export function Catalog({ me }: { me: Me }) {
  const prices = useLoad(() => call(staffApi.GET('/v1/staff/prices')), []);
  const cohorts = useLoad(() => call(staffApi.GET('/v1/staff/cohorts')), []);
  const admin = can(me, 'catalog:manage');
  return (
    <>
      <PageTitle>Catalog and cohorts</PageTitle>
      <section aria-labelledby="prices">
        <h2 id="prices">Prices</h2>
        <Show load={prices}>
          {(list) =>
            list.length === 0 ? (
              <p>No prices yet.</p>
            ) : (
              <table class="stack" data-testid="prices">
                <caption class="sr-only">The catalog's prices</caption>
                <thead>
                  <tr>
                    <th scope="col">Price</th>
                    <th scope="col">Charged</th>
                    <th scope="col">Model</th>
                    <th scope="col">Taxes</th>
                  </tr>
                </thead>
                <tbody>
                  {[...list]
                    .sort((a, b) => a.id.localeCompare(b.id))
                    .map((p) => (
                      <tr key={p.id}>
                        <td data-label="Price">
                          {p.name} <span class="muted">{p.id}</span>
                        </td>
                        <td data-label="Charged">{charge(p)}</td>
                        <td data-label="Model">{model(p)}</td>
                        <td data-label="Taxes">{p.tax_codes?.join(', ') || 'the account’s'}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            )
          }
        </Show>
        {admin && <SavePrice onDone={() => void prices.reload()} />}
      </section>
      <section aria-labelledby="cohorts">
        <h2 id="cohorts">Cohorts</h2>
        <Show load={cohorts}>
          {(list) =>
            list.length === 0 ? (
              <p>No cohorts yet.</p>
            ) : (
              <ul class="plain" data-testid="cohorts">
                {list.map((c) => (
                  <li key={c.id}>
                    {c.name} <span class="muted">({c.id})</span>: billed here from {date(c.go_live)}
                    {c.notices_queued_on ? `, notices queued ${date(c.notices_queued_on)}` : ''}
                  </li>
                ))}
              </ul>
            )
          }
        </Show>
        {admin && <SaveCohort onDone={() => void cohorts.reload()} />}
        {admin && (
          <Show load={cohorts}>{(list) => (list.length > 0 ? <ImportAccounts cohorts={list} /> : null)}</Show>
        )}
      </section>
    </>
  );
}

function SavePrice({ onDone }: { onDone: () => void }) {
  const [json, setJson] = useState('');
  const [done, setDone] = useState<string>();
  const [bad, setBad] = useState<string>();
  const why = useReason('configuration');
  const save = useAction(async () => {
    let price: Price;
    try {
      price = JSON.parse(json) as Price;
    } catch {
      setBad('That is not JSON: check the quotes and commas.');
      return;
    }
    const r = await call(
      staffApi.PUT('/v1/staff/prices/{price_id}', { params: { path: { price_id: String(price.id ?? '') }, header: why.header() }, body: price }),
    );
    setDone(`Price ${r.id} saved. Running contracts keep the price they were imported with.`);
    onDone();
  });
  return (
    <Form title="Add or replace a price" id="save-price">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          setBad(undefined);
          void save.run();
        }}
      >
        <TextArea label="The price, as JSON" value={json} onValue={setJson} hint={`For example: ${PRICE_EXAMPLE}`} />
        {why.fields}
        {bad && <Alert>{bad}</Alert>}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={save.error} />
        <Button type="submit" pending={save.pending}>
          Save the price
        </Button>
      </form>
    </Form>
  );
}

function SaveCohort({ onDone }: { onDone: () => void }) {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [goLive, setGoLive] = useState('');
  const [done, setDone] = useState<string>();
  const why = useReason('configuration');
  const save = useAction(async () => {
    const r = await call(
      staffApi.PUT('/v1/staff/cohorts/{cohort_id}', {
        params: { path: { cohort_id: id.trim() }, header: why.header() },
        body: { name: name.trim(), go_live: goLive },
      }),
    );
    setDone(`Cohort ${r.id} saved: billed here from ${date(r.go_live)}.`);
    onDone();
  });
  return (
    <Form title="Add or change a cohort" id="save-cohort">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          void save.run();
        }}
      >
        <Field label="Cohort id" value={id} onValue={setId} hint="Lowercase letters, digits and -, e.g. dc2-colo" error={save.error?.field('id')} required />
        <Field label="Name" value={name} onValue={setName} error={save.error?.field('name')} required />
        <Field label="Go-live" type="date" value={goLive} onValue={setGoLive} hint="The first day this system bills its accounts" required />
        {why.fields}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={save.error} />
        <Button type="submit" pending={save.pending}>
          Save the cohort
        </Button>
      </form>
    </Form>
  );
}

const IMPORTED: Record<StaffSchemas['ImportStatus'], string> = { imported: 'Imported', exists: 'Exists already', rejected: 'Rejected' };

function ImportAccounts({ cohorts }: { cohorts: StaffSchemas['Cohort'][] }) {
  const [cohort, setCohort] = useState(cohorts[cohorts.length - 1]!.id);
  const [lines, setLines] = useState('');
  const [report, setReport] = useState<StaffSchemas['ImportResponse']>();
  const why = useReason('configuration');
  const send = useAction(async () => {
    const r = await staffApi.POST('/v1/staff/cohorts/{cohort_id}/accounts', {
      params: { path: { cohort_id: cohort }, header: why.header() },
      body: lines,
      bodySerializer: (b: string) => b,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    setReport(await call(Promise.resolve(r)));
  });
  return (
    <Form title="Import accounts" id="import-accounts">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setReport(undefined);
          void send.run();
        }}
      >
        <Select label="Into the cohort" value={cohort} options={cohorts.map((c) => [c.id, `${c.name} (${c.id})`] as [string, string])} onValue={setCohort} />
        <TextArea label="Accounts, one JSON line each" value={lines} onValue={setLines} rows={8} hint={`One line per account (at most 500). For example: ${LINE_EXAMPLE}`} />
        {why.fields}
        <Failure error={send.error} />
        <Button type="submit" pending={send.pending}>
          Import
        </Button>
      </form>
      {report && (
        <div data-testid="import-report">
          <Alert kind={report.rejected > 0 ? 'error' : 'success'}>
            {report.imported} imported, {report.existing} existing, {report.rejected} rejected.
          </Alert>
          <ul class="plain">
            {report.results.map((r) => (
              <li key={r.line}>
                Line {r.line}: {IMPORTED[r.status]}
                {r.account_id && (
                  <>
                    {' '}
                    <a href={accountPath(r.account_id)}>{r.account_id}</a>
                  </>
                )}
                {r.first_bill_date ? `, first bill ${date(r.first_bill_date)}` : ''}
                {r.message ? `: ${r.message}` : ''}
                {r.details && r.details.length > 0 && `: ${r.details.map((d) => `${d.field} ${d.message}`).join('; ')}`}
              </li>
            ))}
          </ul>
        </div>
      )}
    </Form>
  );
}

/** When reminders go out, relative to a bill's due date. */
export function Settings({ me }: { me: Me }) {
  const schedule = useLoad(() => call(staffApi.GET('/v1/staff/settings/reminders')), []);
  return (
    <>
      <PageTitle>Reminder schedule</PageTitle>
      <Show load={schedule}>
        {(s) => (
          <>
            <p data-testid="reminder-schedule">
              {s.offsets_days.length === 0
                ? 'No payment reminders are sent.'
                : `Payment reminders go out ${s.offsets_days.map((d) => (d < 0 ? `${-d} days before` : d === 0 ? 'on' : `${d} days after`)).join(', ')} the due date of an unpaid contract bill.`}
            </p>
            {can(me, 'catalog:manage') && <EditSchedule days={s.offsets_days} onDone={() => void schedule.reload()} />}
          </>
        )}
      </Show>
    </>
  );
}

function EditSchedule({ days, onDone }: { days: number[]; onDone: () => void }) {
  const [text, setText] = useState(days.join(', '));
  const [bad, setBad] = useState<string>();
  const [done, setDone] = useState<string>();
  const why = useReason('configuration');
  const save = useAction(async () => {
    const parts = text.split(/[\s,]+/).filter(Boolean);
    const offsets = parts.map(Number);
    if (offsets.some((d) => !Number.isInteger(d))) {
      setBad('Write whole numbers of days, separated by commas: -3, 1, 7, 14.');
      return;
    }
    const r = await call(staffApi.PUT('/v1/staff/settings/reminders', { params: { header: why.header() }, body: { offsets_days: offsets } }));
    setDone(`Saved: ${r.offsets_days.join(', ') || 'no reminders'}.`);
    onDone();
  });
  return (
    <Form title="Change the schedule" id="edit-schedule">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBad(undefined);
          setDone(undefined);
          void save.run();
        }}
      >
        <Field
          label="Days from the due date"
          value={text}
          onValue={setText}
          hint="Negative: before it. Empty: send none. For example -3, 1, 7, 14"
          error={save.error?.field('offsets_days')}
        />
        {why.fields}
        {bad && <Alert>{bad}</Alert>}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={save.error} />
        <Button type="submit" pending={save.pending}>
          Save the schedule
        </Button>
      </form>
    </Form>
  );
}

const waited = (secs: number) => (secs >= 86400 ? `${Math.floor(secs / 86400)} days` : secs >= 3600 ? `${Math.floor(secs / 3600)} hours` : `${Math.floor(secs / 60)} minutes`);

/** Stripe events whose customer no account is linked to: they apply once the link comes, or are discarded. */
export function ParkedEvents({ me }: { me: Me }) {
  const list = useLoad(() => call(staffApi.GET('/v1/staff/parked-events', {})), []);
  return (
    <>
      <PageTitle>Parked events</PageTitle>
      <p class="muted">
        Stripe events about a customer no account is linked to. Each is applied, in order, once the customer is linked; discard one that never
        will be (it is kept, with who and why).
      </p>
      <Show load={list}>
        {(l) =>
          l.events.length === 0 ? (
            <p>Nothing is parked.</p>
          ) : (
            <ul class="cards" data-testid="parked">
              {l.events.map((e) => (
                <ParkedCard key={e.event_id} e={e} me={me} onDone={() => void list.reload()} />
              ))}
            </ul>
          )
        }
      </Show>
    </>
  );
}

function ParkedCard({ e, me, onDone }: { e: StaffSchemas['ParkedView']; me: Me; onDone: () => void }) {
  const [why, setWhy] = useState('');
  const reason = useReason('other');
  const discard = useAction(async () => {
    await call(
      staffApi.POST('/v1/staff/parked-events/{event_id}/discard', {
        params: { path: { event_id: e.event_id }, header: reason.header() },
        body: { reason: why.trim() },
      }),
    );
    onDone();
  });
  return (
    <li class="card">
      <h2>{e.type}</h2>
      <p>
        {e.event_id} for Stripe customer {e.customer_id}, created {dateTime(e.created)}, waiting {waited(e.waiting_secs)}.
      </p>
      {can(me, 'parked_event:discard') && (
        <form
          onSubmit={(ev) => {
            ev.preventDefault();
            void discard.run();
          }}
        >
          <Field label="Why it will never be applied" value={why} onValue={setWhy} maxLength={500} error={discard.error?.field('reason')} required />
          {reason.fields}
          <Failure error={discard.error} />
          <Button kind="danger" type="submit" pending={discard.pending}>
            Discard
          </Button>
        </form>
      )}
    </li>
  );
}


/** The seller's own trail: setup changes, parked events discarded, bill-run steps. */
export function SellerAudit() {
  const [before, setBefore] = useState<string>();
  const page = useLoad(() => call(staffApi.GET('/v1/staff/audit', { params: { query: before ? { limit: 50, before } : { limit: 50 } } })), [before]);
  return (
    <>
      <PageTitle>Audit trail</PageTitle>
      <p class="muted">Changes to the seller’s setup, parked events discarded and bill-run steps: who, when and why. Each account’s own trail is on its page.</p>
      <Show load={page}>
        {(p) => (
          <>
            {p.entries.length === 0 ? (
              <p>Nothing yet.</p>
            ) : (
              <ul class="plain" data-testid="seller-audit">
                {p.entries.map((e) => (
                  <li key={e.id}>
                    {dateTime(e.at)}: {e.actor.email ?? e.actor.user_id}, {words(e.action)}
                    {e.target ? ` ${e.target}` : ''}
                    {e.reason && ` (${words(e.reason.code)}${e.reason.text ? `: ${e.reason.text}` : ''})`}
                  </li>
                ))}
              </ul>
            )}
            {p.next && (
              <Button kind="secondary" onClick={() => setBefore(p.next ?? undefined)}>
                Older
              </Button>
            )}
          </>
        )}
      </Show>
    </>
  );
}
