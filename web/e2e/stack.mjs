// Starts the whole local stack (`dev up`: the AWS stand-in with Cognito, the fake Stripe, the
// functions, the gateway serving the app) on free ports for one test run, and stops it.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '../..');

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** The stack, its app served from a copy of web/dist (plus `extra` files), ready to use. */
export async function startStack({ extra = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'portal-e2e-'));
  const web = join(dir, 'web');
  cpSync(join(repo, 'web/dist'), web, { recursive: true });
  for (const [name, body] of Object.entries(extra)) writeFileSync(join(web, name), body);
  const [api, aws, stripe] = [await freePort(), await freePort(), await freePort()];
  const target = process.env.CARGO_TARGET_DIR ?? join(repo, 'target');
  const bin = process.env.DEV_BIN ?? join(target, 'debug/dev');
  const child = spawn(bin, ['up'], {
    cwd: repo,
    env: {
      ...process.env,
      DEV_API_PORT: String(api),
      DEV_AWS_PORT: String(aws),
      DEV_STRIPE_PORT: String(stripe),
      DEV_DATA_DIR: join(dir, 'data'),
      DEV_WEB_DIR: web,
      PORTAL_URL: `http://127.0.0.1:${api}`,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const started = Date.now();
  await new Promise((ok, fail) => {
    const timer = setInterval(() => {
      if (out.includes('Ctrl-C stops everything')) {
        clearInterval(timer);
        ok();
      } else if (child.exitCode !== null || Date.now() - started > 120_000) {
        clearInterval(timer);
        fail(new Error(`the local stack did not start:\n${out.slice(-4000)}`));
      }
    }, 100);
  });
  const outbox = join(dir, 'data/outbox');
  return {
    base: `http://127.0.0.1:${api}`,
    outbox,
    log: () => out,
    /** The mails sent so far whose file name contains `part`, newest last. */
    mails(part) {
      let names = [];
      try {
        names = readdirSync(outbox).filter((n) => n.includes(part)).sort();
      } catch {
        return [];
      }
      return names.map((n) => readFileSync(join(outbox, n), 'utf8'));
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.once('exit', ok)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
