import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, call } from '../api/client';
import { cardLabel } from '../format';
import { can, roleOn, useSession } from '../session';
import { Alert, Button, Failure, PageTitle, Show, goTo, poll, useAction, useLoad } from '../ui';
import { getMethods, path } from './data';

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
      setNote('Card saved. It shows here as soon as the payment processor confirms it.');
      route(`/accounts/${encodeURIComponent(id)}/payment-methods`, true);
      const before = load.data?.payment_methods.length ?? 0;
      void poll(async () => (await getMethods(id)).payment_methods.length > before, 1000, 20000).then(() => load.reload());
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const add = useAction(async () => {
    const r = await call(api.POST('/v1/accounts/{account_id}/payment-methods/setup', path(id)));
    goTo(r.url);
  });
  const makeDefault = useAction(async (pm: string) => {
    await call(api.POST('/v1/accounts/{account_id}/payment-methods/{payment_method_id}/default', { params: { path: { account_id: id, payment_method_id: pm } } }));
    setNote('Making it the default…');
    await poll(async () => (await getMethods(id)).payment_methods.some((m) => m.id === pm && m.default), 1000, 20000);
    setNote('Default card changed.');
    await load.reload();
  });
  const remove = useAction(async (pm: string, label: string) => {
    if (!window.confirm(`Remove ${label}?`)) return;
    await call(api.DELETE('/v1/accounts/{account_id}/payment-methods/{payment_method_id}', { params: { path: { account_id: id, payment_method_id: pm } } }));
    setNote(`${label} removed.`);
    await poll(async () => !(await getMethods(id)).payment_methods.some((m) => m.id === pm), 1000, 20000);
    await load.reload();
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
