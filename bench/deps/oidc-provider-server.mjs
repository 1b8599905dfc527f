// The peer: panva's oidc-provider issuing RFC 9068 JWT access tokens for client credentials
// through a resource indicator, configured like zgw-auth (same clients, scope, lifetime, algorithm).
// Usage: node oidc-provider-server.mjs <config.json>  (port, issuer, alg, privateJwk, clients)
import fs from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const RESOURCE = 'urn:zgw:apis';

const provider = new Provider(config.issuer, {
  clients: config.clients.map(({ clientId, secret }) => ({
    client_id: clientId,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // Only the configured key exists; without this the client would ask for RS256 ID tokens.
    id_token_signed_response_alg: config.alg,
  })),
  jwks: { keys: [{ ...config.privateJwk, alg: config.alg, use: 'sig' }] },
  cookies: { keys: ['bench-only-cookie-key-not-used-by-client-credentials'] },
  scopes: ['zaken.lezen'],
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'zaken.lezen',
        audience: 'ZGW_APIs',
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: config.alg } },
      }),
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
provider.listen(config.port, '127.0.0.1', () => console.log('oidc-provider listening'));
