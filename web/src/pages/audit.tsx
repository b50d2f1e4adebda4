import { useRoute } from 'preact-iso';
import { api, call } from '../api/client';
import { dateTime } from '../format';
import { PageTitle, Show, useCursorPages, useLoad } from '../ui';

export function Audit() {
  const { params } = useRoute();
  const id = params['id']!;
  const { cursor, pager } = useCursorPages();
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
                    <td data-label="What">
                      {e.action.replace(/[._]/g, ' ')}
                      {e.reason && (
                        <span class="muted">
                          {' '}
                          ({e.reason.code.replace(/_/g, ' ')}
                          {e.reason.text ? `: ${e.reason.text}` : ''})
                        </span>
                      )}
                    </td>
                    <td data-label="Target">{e.target ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {pager('Pages of the audit trail', d.next_cursor)}
          </>
        )}
      </Show>
    </>
  );
}
