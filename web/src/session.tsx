/** Who is signed in, their memberships, and the account being looked at. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Schemas } from './api/client';
import type { PortalConfig } from './config';

export type Role = Schemas['Role'];

export interface Session {
  config: PortalConfig;
  me: Schemas['MeView'];
  /** The names of the caller's accounts, by id (an id stands in until its name is read). */
  names: Record<string, string>;
  /** Loads `/v1/me` again (after creating an account, say). */
  refreshMe: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

export const accountName = (s: Session, id: string): string => s.names[id] ?? id;

/** The caller's role on an account, or null when not a member. */
export function roleOn(me: Schemas['MeView'], accountId: string): Role | null {
  return me.memberships.find((m) => m.account_id === accountId)?.role ?? null;
}

/** What each role may do, as the API enforces it (see the Role schema). */
export const can = {
  manageBilling: (r: Role | null) => r === 'admin' || r === 'billing',
  manageMembers: (r: Role | null) => r === 'admin',
  readAudit: (r: Role | null) => r === 'admin',
};
