import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, call, type Schemas } from '../api/client';
import { can, roleOn, useSession } from '../session';
import { Alert, Button, Failure, Field, Loading, PageTitle, useAction, useLoad } from '../ui';
import { getAccount, path } from './data';

const MAX_RECIPIENTS = 20;

export function Settings() {
  const { params } = useRoute();
  const id = params['id']!;
  const { me } = useSession();
  const manage = can.manageBilling(roleOn(me, id));
  const load = useLoad(() => getAccount(id), [id]);
  if (load.error) return <Failure error={load.error} />;
  if (!load.data) return <Loading />;
  return (
    <>
      <PageTitle>Address &amp; bill recipients</PageTitle>
      {!manage && <Alert kind="info">You can see these details; an admin or billing user of this account can change them.</Alert>}
      <Contact account={load.data} manage={manage} onSaved={load.reload} />
      <AddressForm account={load.data} manage={manage} onSaved={load.reload} />
      <Recipients account={load.data} manage={manage} onSaved={load.reload} />
    </>
  );
}

type Props = { account: Schemas['AccountView']; manage: boolean; onSaved: () => Promise<void> };

function Contact({ account, manage, onSaved }: Props) {
  const c = account.billing_contact;
  const [name, setName] = useState(c.name);
  const [email, setEmail] = useState(c.email);
  const [phone, setPhone] = useState(c.phone ?? '');
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    await call(api.PATCH('/v1/accounts/{account_id}/billing-contact', { ...path(account.id), body: { name, email, phone: phone.trim() ? phone : null } }));
    setSaved(true);
    await onSaved();
  });
  const err = (f: string) => save.error?.field(`billing_contact.${f}`) ?? save.error?.field(f);
  return (
    <section class="card" aria-labelledby="contact-h">
      <h2 id="contact-h">Billing contact</h2>
      <p class="muted">Gets every bill and payment notice by e-mail.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <Field label="Name" required disabled={!manage} value={name} onValue={setName} error={err('name')} autoComplete="name" />
        <Field label="E-mail" type="email" required disabled={!manage} value={email} onValue={setEmail} error={err('email')} autoComplete="email" />
        <Field label="Phone" type="tel" disabled={!manage} value={phone} onValue={setPhone} error={err('phone')} hint="With the country code, e.g. +1 555 010 0100." autoComplete="tel" />
        {save.error && save.error.details.length === 0 && <Failure error={save.error} />}
        {saved && <Alert kind="success">Billing contact saved.</Alert>}
        {manage && (
          <Button type="submit" pending={save.pending}>
            Save contact
          </Button>
        )}
      </form>
    </section>
  );
}

function AddressForm({ account, manage, onSaved }: Props) {
  const a = account.billing_address;
  const [line1, setLine1] = useState(a.line1);
  const [line2, setLine2] = useState(a.line2 ?? '');
  const [city, setCity] = useState(a.city);
  const [region, setRegion] = useState(a.region ?? '');
  const [postal, setPostal] = useState(a.postal_code ?? '');
  const [country, setCountry] = useState(a.country);
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    const opt = (v: string) => (v.trim() ? v : null);
    await call(
      api.PATCH('/v1/accounts/{account_id}/billing-address', {
        ...path(account.id),
        body: { line1, line2: opt(line2), city, region: opt(region), postal_code: opt(postal), country },
      }),
    );
    setSaved(true);
    await onSaved();
  });
  const err = (f: string) => save.error?.field(`billing_address.${f}`) ?? save.error?.field(f);
  return (
    <section class="card" aria-labelledby="address-h">
      <h2 id="address-h">Billing address</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <Field label="Address line 1" disabled={!manage} value={line1} onValue={setLine1} error={err('line1')} autoComplete="address-line1" />
        <Field label="Address line 2" disabled={!manage} value={line2} onValue={setLine2} error={err('line2')} autoComplete="address-line2" />
        <div class="two">
          <Field label="City" disabled={!manage} value={city} onValue={setCity} error={err('city')} autoComplete="address-level2" />
          <Field label="State or region" disabled={!manage} value={region} onValue={setRegion} error={err('region')} autoComplete="address-level1" />
        </div>
        <div class="two">
          <Field label="Postal code" disabled={!manage} value={postal} onValue={setPostal} error={err('postal_code')} autoComplete="postal-code" />
          <Field label="Country" disabled={!manage} value={country} onValue={setCountry} error={err('country')} hint="Two letters, e.g. US or DE." autoComplete="country" />
        </div>
        {save.error && save.error.details.length === 0 && <Failure error={save.error} />}
        {saved && <Alert kind="success">Billing address saved.</Alert>}
        {manage && (
          <Button type="submit" pending={save.pending}>
            Save address
          </Button>
        )}
      </form>
    </section>
  );
}

function Recipients({ account, manage, onSaved }: Props) {
  const [list, setList] = useState<string[]>(account.bill_recipients.map(String));
  const [saved, setSaved] = useState(false);
  // Reset to the stored list only when it changes (not on every reload of the account, which
  // would drop a row being typed while another form saves).
  const stored = JSON.stringify(account.bill_recipients);
  useEffect(() => setList(JSON.parse(stored) as string[]), [stored]);
  const save = useAction(async () => {
    setSaved(false);
    // Blank rows are dropped first, so a refusal's `recipients[i]` names the row shown.
    const recipients = list.map((r) => r.trim()).filter(Boolean);
    setList(recipients);
    await call(api.PUT('/v1/accounts/{account_id}/bill-recipients', { ...path(account.id), body: { recipients } }));
    setSaved(true);
    await onSaved();
  });
  const set = (i: number, v: string) => setList(list.map((x, j) => (j === i ? v : x)));
  return (
    <section class="card" aria-labelledby="rcpt-h">
      <h2 id="rcpt-h">Forward bills to other e-mails</h2>
      <p class="muted">Besides the billing contact, these addresses get every bill (at most {MAX_RECIPIENTS}).</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        {list.length === 0 && <p>No other addresses.</p>}
        {list.map((r, i) => (
          <div class="row" key={i}>
            <Field label={`Recipient ${i + 1}`} type="email" disabled={!manage} value={r} onValue={(v) => set(i, v)} error={save.error?.field(`recipients[${i}]`)} />
            {manage && (
              <button type="button" class="link" aria-label={`Remove recipient ${i + 1}`} onClick={() => setList(list.filter((_, j) => j !== i))}>
                Remove
              </button>
            )}
          </div>
        ))}
        {save.error && !save.error.details.some((d) => d.field.startsWith('recipients[')) && <Failure error={save.error} />}
        {saved && <Alert kind="success">Bill recipients saved.</Alert>}
        {manage && (
          <div class="actions">
            <Button type="button" kind="secondary" disabled={list.length >= MAX_RECIPIENTS} onClick={() => setList([...list, ''])}>
              Add an address
            </Button>
            <Button type="submit" pending={save.pending}>
              Save recipients
            </Button>
          </div>
        )}
      </form>
    </section>
  );
}
