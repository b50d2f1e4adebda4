/** What the back office's pages share: the signed-in staff member's permissions, the reason
 * every write gives, a card for a form, and a plain text area. */
import type { ComponentChildren } from 'preact';
import { useId, useState } from 'preact/hooks';
import { Field, Select } from '../ui';
import { REASONS, type ReasonCode, type StaffSchemas, reason } from './api';

export type Me = StaffSchemas['Me'];
export type Permission = StaffSchemas['Permission'];

export const can = (me: Me, p: Permission) => me.permissions.includes(p);
export const accountPath = (id: string) => `/staff/accounts/${encodeURIComponent(id)}`;

/** The reason a write gives (a code from the list and the person's words), and its fields. */
export function useReason(initial: ReasonCode) {
  const [code, setCode] = useState<ReasonCode>(initial);
  const [text, setText] = useState('');
  return {
    header: () => reason(code, text),
    fields: (
      <>
        <Select<ReasonCode> label="Reason" value={code} options={REASONS} onValue={setCode} />
        <Field label="Reason, in words" value={text} onValue={setText} maxLength={500} hint="Kept in the audit trail" />
      </>
    ),
  };
}

export function Form({ title, id, children }: { title: string; id: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={id} class="card">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

export function TextArea({
  label,
  value,
  onValue,
  hint,
  rows = 6,
}: {
  label: string;
  value: string;
  onValue: (v: string) => void;
  hint?: string;
  rows?: number;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea
        id={id}
        rows={rows}
        value={value}
        spellcheck={false}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onInput={(e) => onValue((e.target as HTMLTextAreaElement).value)}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
}

/** `some_name` as words. */
export const words = (s: string) => s.replace(/[._]/g, ' ');
