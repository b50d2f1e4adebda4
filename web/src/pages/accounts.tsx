import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, call } from '../api/client';
import { accountName, useSession } from '../session';
import { Button, Failure, Field, PageTitle, Select, useAction } from '../ui';

export function Home() {
  const session = useSession();
  const { me } = session;
  const { route } = useLocation();
  const only = me.memberships.length === 1 ? me.memberships[0] : undefined;
  useEffect(() => {
    if (only) route(`/accounts/${encodeURIComponent(only.account_id)}`, true);
  }, [only, route]);
  if (only) return null;
  return (
    <section>
      <PageTitle>Your accounts</PageTitle>
      {me.memberships.length === 0 ? (
        <p>You are not a member of any account yet. If someone invited you, ask them to check the e-mail address; or create an account of your own.</p>
      ) : (
        <ul class="cards">
          {me.memberships.map((m) => (
            <li key={m.account_id}>
              <a href={`/accounts/${encodeURIComponent(m.account_id)}`}>{accountName(session, m.account_id)}</a>{' '}
              <span class="muted">
                ({m.account_id}, {m.role})
              </span>
            </li>
          ))}
        </ul>
      )}
      <p>
        <a class="btn btn-secondary" href="/accounts/new">
          Create an account
        </a>
      </p>
    </section>
  );
}

export function CreateAccount() {
  const { me, refreshMe } = useSession();
  const { route } = useLocation();
  const [name, setName] = useState('');
  const [currency, setCurrency] = useState<'USD' | 'EUR' | 'GBP' | 'JPY'>('USD');
  const [contactName, setContactName] = useState('');
  const [email, setEmail] = useState(me.user.email ?? '');
  const [phone, setPhone] = useState('');
  const [line1, setLine1] = useState('');
  const [line2, setLine2] = useState('');
  const [city, setCity] = useState('');
  const [region, setRegion] = useState('');
  const [postal, setPostal] = useState('');
  const [country, setCountry] = useState('US');
  // One key per form: a double submit creates one account.
  const [key] = useState(() => crypto.randomUUID());
  const create = useAction(async () => {
    const a = await call(
      api.POST('/v1/accounts', {
        params: { header: { 'Idempotency-Key': key } },
        body: {
          name,
          currency,
          billing_contact: { name: contactName, email, phone: phone || null },
          billing_address: { line1, line2: line2 || null, city, region: region || null, postal_code: postal || null, country },
        },
      }),
    );
    await refreshMe();
    route(`/accounts/${encodeURIComponent(a.id)}`);
  });
  const err = (f: string) => create.error?.field(f);
  return (
    <section class="narrow">
      <PageTitle>Create an account</PageTitle>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <Field label="Company or account name" required value={name} onValue={setName} error={err('name')} />
        <Select label="Currency" value={currency} onValue={setCurrency} options={[['USD', 'US dollar (USD)'], ['EUR', 'Euro (EUR)'], ['GBP', 'Pound sterling (GBP)'], ['JPY', 'Japanese yen (JPY)']]} />
        <fieldset>
          <legend>Billing contact</legend>
          <Field label="Name" required value={contactName} onValue={setContactName} error={err('billing_contact.name') ?? err('name')} />
          <Field label="E-mail" type="email" required value={email} onValue={setEmail} error={err('billing_contact.email') ?? err('email')} />
          <Field label="Phone (optional)" type="tel" value={phone} onValue={setPhone} error={err('billing_contact.phone') ?? err('phone')} />
        </fieldset>
        <fieldset>
          <legend>Billing address</legend>
          <Field label="Address line 1" required value={line1} onValue={setLine1} error={err('billing_address.line1') ?? err('line1')} />
          <Field label="Address line 2 (optional)" value={line2} onValue={setLine2} error={err('billing_address.line2') ?? err('line2')} />
          <Field label="City" required value={city} onValue={setCity} error={err('billing_address.city') ?? err('city')} />
          <Field label="State or region" value={region} onValue={setRegion} error={err('billing_address.region') ?? err('region')} />
          <Field label="Postal code" value={postal} onValue={setPostal} error={err('billing_address.postal_code') ?? err('postal_code')} />
          <Field label="Country (2 letters)" required maxLength={2} value={country} onValue={setCountry} error={err('billing_address.country') ?? err('country')} />
        </fieldset>
        {create.error && create.error.details.length === 0 && <Failure error={create.error} />}
        {create.error && create.error.details.length > 0 && <p class="field-error">Some fields need another look.</p>}
        <Button type="submit" pending={create.pending}>
          Create the account
        </Button>
      </form>
    </section>
  );
}
