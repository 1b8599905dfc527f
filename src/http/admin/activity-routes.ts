import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '#typebox';
import type { Activity } from '../../audit/activity-report.js';
import { CLIENT_LIMITS } from '../../clients/client-limits.js';
import { RSIN_PATTERN } from '../../clients/rsin.js';
import { organisationSeenBy } from '../../organisations/administration-policy.js';

const counts = { issued: Type.Integer(), failed: Type.Integer({ description: 'failed client authentications' }) };
const activitySchema = Type.Object({
  since: Type.Integer({ description: 'epoch milliseconds of the first hour' }),
  hours: Type.Array(Type.Object({ hour: Type.Integer({ description: 'epoch milliseconds of the hour' }), ...counts }), {
    description: 'the last 7 days, every hour, oldest first',
  }),
  clients: Type.Array(
    Type.Object({ clientId: Type.String(), rsin: Type.Union([Type.String(), Type.Null()]), ...counts }),
    { description: 'the busiest clients (at most 20)' },
  ),
  organisations: Type.Array(Type.Object({ rsin: Type.Union([Type.String(), Type.Null()]), ...counts }), {
    description:
      'the busiest organisations (at most 20); null: events that recorded no organisation, such as failures of unknown client ids',
  }),
});
const activityQuery = Type.Object(
  {
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: CLIENT_LIMITS.clientId })),
    rsin: Type.Optional(Type.String({ pattern: RSIN_PATTERN.source })),
  },
  { additionalProperties: false },
);

export interface ActivityRoutesOptions {
  activity: Pick<Activity, 'report'>;
}

/**
 * GET /admin/activity: tokens issued and failed authentications per hour over the last 7 days, and
 * per client and per organisation, from the audit trail. An organisation administrator sees its
 * own organisation's only, whatever it asks for.
 */
export const activityRoutes: FastifyPluginAsyncTypebox<ActivityRoutesOptions> = async (admin, { activity }) => {
  admin.get(
    '/activity',
    { schema: { querystring: activityQuery, response: { 200: activitySchema } } },
    async (request) => {
      const own = organisationSeenBy(request.administrator);
      if (own !== undefined && request.query.rsin !== undefined && request.query.rsin !== own)
        return { since: 0, hours: [], clients: [], organisations: [] };
      return activity.report({ clientId: request.query.clientId, rsin: own ?? request.query.rsin });
    },
  );
};
