import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, call } from '../api/client';
import { cardLabel } from '../format';
import { can, roleOn, useSession } from '../session';
import { Alert, Button, Failure, PageTitle, Show, goTo, poll, stashIds, takeStashedIds, useAction, useLoad } from '../ui';
import { getMethods, path } from './data';

/** Where the cards there were before Checkout's setup mode wait out the redirect. */
const cardsKey = (account: string) => `portal.cards.${account}`;

export function PaymentMethods() {
  const { params } = useRoute();
  const { query, route } = useLocation();
  const id = params['id']!;
  const { me } = useSession();
  const manage = can.manageBilling(roleOn(me, id));
  const load = useLoad(() => getMethods(id), [id]);
  const [note, setNote] = useState<string>();

  useEffect(() => {
    if (query['setup'] === 'success') {
      setNote('Saving the card… It shows here as soon as the payment processor confirms it.');
      route(`/accounts/${encodeURIComponent(id)}/payment-methods`, true);
      // The cards there were before Checkout (kept across the redirect): wait for a new one.
      const before = takeStashedIds(cardsKey(id));
      const added = async () => (await getMethods(id)).payment_methods.some((m) => !before.includes(m.id));
      void poll(added, 1000, 30000).then(async (ok) => {
        await load.reload();
        setNote(ok ? 'Card saved.' : 'The card is not confirmed yet. It shows here once the payment processor confirms it.');
      });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const add = useAction(async () => {
    // The cards on the page (read again only if the page has not loaded them yet).
    const known = (load.data ?? (await getMethods(id))).payment_methods.map((m) => m.id);
    const r = await call(api.POST('/v1/accounts/{account_id}/payment-methods/setup', path(id)));
    stashIds(cardsKey(id), known);
    goTo(r.url);
  });
  const makeDefault = useAction(async (pm: string) => {
    await call(api.POST('/v1/accounts/{account_id}/payment-methods/{payment_method_id}/default', { params: { path: { account_id: id, payment_method_id: pm } } }));
    setNote('Making it the default…');
    const ok = await poll(async () => (await getMethods(id)).payment_methods.some((m) => m.id === pm && m.default), 1000, 20000);
    await load.reload();
    setNote(ok ? 'Default card changed.' : 'The change was sent; it shows here once the payment processor confirms it.');
  });
  const remove = useAction(async (pm: string, label: string) => {
    if (!window.confirm(`Remove ${label}?`)) return;
    await call(api.DELETE('/v1/accounts/{account_id}/payment-methods/{payment_method_id}', { params: { path: { account_id: id, payment_method_id: pm } } }));
    await poll(async () => !(await getMethods(id)).payment_methods.some((m) => m.id === pm), 1000, 20000);
    await load.reload();
    setNote(`${label} removed.`);
  });

  return (
    <>
      <PageTitle>Cards</PageTitle>
      {note && <Alert kind="success">{note}</Alert>}
      <Failure error={add.error ?? makeDefault.error ?? remove.error} />
      <Show load={load}>
        {(d) =>
          d.payment_methods.length === 0 ? (
            <p>No card is saved.</p>
          ) : (
            <ul class="cards">
              {d.payment_methods.map((m) => (
                <li key={m.id} class="row">
                  <span>
                    {cardLabel(m)} {m.default && <span class="tag tag-strong">Default</span>}
                  </span>
                  {manage && (
                    <span class="row-actions">
                      {!m.default && (
                        <Button kind="secondary" pending={makeDefault.pending} onClick={() => void makeDefault.run(m.id)} aria-label={`Make default: ${cardLabel(m)}`}>
                          Make default
                        </Button>
                      )}
                      <Button kind="danger" pending={remove.pending} onClick={() => void remove.run(m.id, cardLabel(m))} aria-label={`Remove: ${cardLabel(m)}`}>
                        Remove
                      </Button>
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      {manage && (
        <p>
          <Button pending={add.pending} onClick={() => void add.run()}>
            Add a card
          </Button>
        </p>
      )}
    </>
  );
}
