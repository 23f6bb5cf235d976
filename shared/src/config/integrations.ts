import { isIP } from 'node:net';
import { z } from 'zod';
import type { VariableMeta } from './env.ts';

/** Outbound targets and Web Push: what the API (creating webhooks and subscriptions) and the worker (sending) both read. */
export interface IntegrationsConfig {
  /** WEBHOOK_ALLOWED_TARGETS: hosts and CIDRs the worker may send to although they are private, loopback or link-local. */
  allowedTargets: string[];
  /** VAPID_PUBLIC_KEY: what browsers subscribe with; no push without it. */
  vapidPublicKey: string | undefined;
}

const HOST = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function targetProblem(entry: string): string | undefined {
  const [net, prefix, extra] = entry.split('/');
  const type = isIP(net ?? '');
  if (extra !== undefined) return `"${entry}" is not a host, an IP address or a CIDR`;
  if (type === 0) return prefix === undefined && HOST.test(entry) ? undefined : `"${entry}" is not a host, an IP address or a CIDR`;
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (type === 4 ? 32 : 128) ? undefined : `"${entry}": bad prefix length`;
}

export const integrationsShape = {
  WEBHOOK_ALLOWED_TARGETS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const entries = text
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean);
      for (const entry of entries) {
        const problem = targetProblem(entry);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
      return entries;
    })
    .meta({
      description:
        'Webhook URLs and push endpoints may not reach private, loopback, link-local or other reserved addresses (checked after DNS resolution, at every connection and on every redirect) unless listed here. The tests list `127.0.0.0/8`; never list the networks of your own services in production.',
      values: 'comma-separated host names, IP addresses and CIDR ranges',
    } satisfies VariableMeta),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{80,100}$/, 'must be a VAPID public key (base64url, as `npx web-push generate-vapid-keys` prints)')
    .optional()
    .meta({
      description:
        'The VAPID public key browsers subscribe with (`GET /api/push/key`); with `VAPID_PRIVATE_KEY` on the workers, people who are away get Web Push notifications. Unset: no push.',
      values: 'base64url',
    } satisfies VariableMeta),
};

export const readIntegrationsConfig = (v: { WEBHOOK_ALLOWED_TARGETS: string[]; VAPID_PUBLIC_KEY: string | undefined }): IntegrationsConfig => ({
  allowedTargets: v.WEBHOOK_ALLOWED_TARGETS,
  vapidPublicKey: v.VAPID_PUBLIC_KEY,
});
