/** The app's runtime settings, read from `/config.json` on the app's own origin: `make dev` serves
 * the stand-in's pool, `make deploy-web` uploads the stack's. One build runs in both places. */
export interface PortalConfig {
  cognito: {
    userPoolId: string;
    userPoolClientId: string;
    /** Set locally: where the Cognito stand-in answers (same origin, proxied). Absent in AWS. */
    userPoolEndpoint?: string;
  };
  sellerName: string;
  supportEmail: string;
  /** The back office's staff pool (`/staff`); absent where there is none. */
  staffCognito?: PortalConfig['cognito'];
}

function pool(cog: Partial<PortalConfig['cognito']> | undefined, origin: string): PortalConfig['cognito'] | undefined {
  if (!cog || typeof cog.userPoolId !== 'string' || typeof cog.userPoolClientId !== 'string') return undefined;
  return {
    userPoolId: cog.userPoolId,
    userPoolClientId: cog.userPoolClientId,
    ...(typeof cog.userPoolEndpoint === 'string' && cog.userPoolEndpoint
      ? { userPoolEndpoint: new URL(cog.userPoolEndpoint, origin).toString() }
      : {}),
  };
}

/** `raw` as the app's settings; a relative `userPoolEndpoint` is resolved against `origin`. */
export function parseConfig(raw: unknown, origin: string): PortalConfig {
  const c = raw as Partial<PortalConfig> | null;
  const cognito = pool(c?.cognito, origin);
  if (!cognito) throw new Error('config.json has no cognito.userPoolId / cognito.userPoolClientId');
  const staffCognito = pool(c?.staffCognito, origin);
  return {
    cognito,
    sellerName: typeof c?.sellerName === 'string' ? c.sellerName : 'Billing',
    supportEmail: typeof c?.supportEmail === 'string' ? c.supportEmail : '',
    ...(staffCognito ? { staffCognito } : {}),
  };
}

export async function loadConfig(): Promise<PortalConfig> {
  const r = await fetch('/config.json', { cache: 'no-store' });
  if (!r.ok) throw new Error(`config.json: HTTP ${r.status}`);
  return parseConfig(await r.json(), window.location.origin);
}
