import { useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, call } from '../api/client';
import { dateTime } from '../format';
import { Button, PageTitle, Show, useLoad } from '../ui';

export function Audit() {
  const { params } = useRoute();
  const id = params['id']!;
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const load = useLoad(
    () => call(api.GET('/v1/accounts/{account_id}/audit', { params: { path: { account_id: id }, query: { limit: '25', ...(cursor ? { cursor } : {}) } } })),
    [id, cursor],
  );
  return (
    <>
      <PageTitle>Audit trail</PageTitle>
      <p class="muted">Every change to this account, newest first.</p>
      <Show load={load}>
        {(d) => (
          <>
            <table class="stack">
              <caption class="sr-only">Audit entries</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Target</th>
                </tr>
              </thead>
              <tbody>
                {d.entries.map((e) => (
                  <tr key={e.id}>
                    <td data-label="When">{dateTime(e.at)}</td>
                    <td data-label="Who">{e.actor.email ?? e.actor.user_id}</td>
                    <td data-label="What">{e.action.replace(/[._]/g, ' ')}</td>
                    <td data-label="Target">{e.target ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <nav class="pager" aria-label="Pages of the audit trail">
              {cursors.length > 1 && (
                <Button kind="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
                  Newer
                </Button>
              )}
              {d.next_cursor && (
                <Button kind="secondary" onClick={() => setCursors([...cursors, d.next_cursor ?? undefined])}>
                  Older
                </Button>
              )}
            </nav>
          </>
        )}
      </Show>
    </>
  );
}
