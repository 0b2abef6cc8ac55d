// A real OpenID Connect provider (the npm `oidc-provider` package) for ferroflow's login
// and token tests. Nothing is mocked: discovery, JWKS, the authorization-code flow with
// PKCE, ID tokens, userinfo and client-credentials JWTs are the package's own.
//
// Run: node end2end/oidc/provider.mjs
// When it listens it prints one line to stdout: `READY <issuer>` (e.g.
// `READY http://127.0.0.1:40123`), so a test can start it on port 0 and read the issuer.
//
// Environment (all optional):
//   OIDC_HOST               address to listen on (default 127.0.0.1)
//   OIDC_PORT               port (default 0: a free one; the READY line names it)
//   OIDC_CLIENT_ID          the browser-login client (default `ferroflow`)
//   OIDC_CLIENT_SECRET      its secret (default `ferroflow-secret`)
//   OIDC_REDIRECT_URIS      extra exact redirect URIs for it, comma-separated. Without them
//                           any loopback `http://127.0.0.1:<port>/auth/callback` or
//                           `http://localhost:<port>/auth/callback` is accepted (tests run
//                           ferroflow on port 0, so the port is not known in advance)
//   OIDC_JOB_CLIENT_ID      the client-credentials client (default `ferroflow-job`)
//   OIDC_JOB_CLIENT_SECRET  its secret (default `ferroflow-job-secret`)
//   OIDC_AUDIENCE           the `aud` of client-credentials access tokens, which are RS256
//                           JWTs (default: OIDC_CLIENT_ID, the audience ferroflow accepts
//                           when --oidc-audience is not given)
//   OIDC_RESOURCE           the resource indicator a client-credentials request may name
//                           (`resource=`); it is the default, so naming it is optional
//                           (default `urn:ferroflow:api`; the provider wants an absolute URI)
//   OIDC_ACCESS_TOKEN_TTL   lifetime of those access tokens in seconds (default 600); the
//                           tests make short-lived ones to see a real, signed expiry refused
//
// Users (password: `<login>-password`, e.g. alice / alice-password):
//   alice  groups [team-a]
//   bob    groups [team-b]
//   carol  groups [ferroflow-admins]
//   dave   groups []
// The `groups` claim comes with the `profile` scope (and a `groups` scope), in the ID token
// as well as from userinfo. The login form is the package's development form with a password
// check added here; consent is implied for the ferroflow client (first party), so a login is
// one form: fill `login` and `password`, press "Sign-in".
//
// Client-credentials: POST <issuer>/token with HTTP Basic job-client:secret and
// `grant_type=client_credentials` (optionally `resource=<OIDC_RESOURCE>`) returns a JWT access
// token with `sub` = the job client id, `aud` = OIDC_AUDIENCE, signed by a key in
// <issuer>/jwks. The signing key is generated at each start.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import * as querystring from 'node:querystring';
import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => process.env[name] || fallback;
const HOST = env('OIDC_HOST', '127.0.0.1');
const PORT = Number(env('OIDC_PORT', '0'));
const CLIENT_ID = env('OIDC_CLIENT_ID', 'ferroflow');
const CLIENT_SECRET = env('OIDC_CLIENT_SECRET', 'ferroflow-secret');
const JOB_CLIENT_ID = env('OIDC_JOB_CLIENT_ID', 'ferroflow-job');
const JOB_CLIENT_SECRET = env('OIDC_JOB_CLIENT_SECRET', 'ferroflow-job-secret');
const AUDIENCE = env('OIDC_AUDIENCE', CLIENT_ID);
const RESOURCE = env('OIDC_RESOURCE', 'urn:ferroflow:api');
const ACCESS_TOKEN_TTL = Number(env('OIDC_ACCESS_TOKEN_TTL', '600'));
const EXTRA_REDIRECTS = env('OIDC_REDIRECT_URIS', '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

const LOOPBACK_CALLBACK = /^http:\/\/(127\.0\.0\.1|localhost):\d+\/auth\/callback$/;

const USERS = {
  alice: { name: 'Alice Anders', groups: ['team-a'] },
  bob: { name: 'Bob Berg', groups: ['team-b'] },
  carol: { name: 'Carol Chen', groups: ['ferroflow-admins'] },
  dave: { name: 'Dave Dahl', groups: [] },
};

function account(id) {
  const user = USERS[id];
  if (!user) return undefined;
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        preferred_username: id,
        name: user.name,
        email: `${id}@example.com`,
        email_verified: true,
        groups: user.groups,
      };
    },
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  alg: 'RS256',
  use: 'sig',
};

function configuration() {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [
          'http://127.0.0.1/auth/callback',
          'http://localhost/auth/callback',
          ...EXTRA_REDIRECTS,
        ],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: JOB_CLIENT_ID,
        client_secret: JOB_CLIENT_SECRET,
        redirect_uris: [],
        response_types: [],
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey] },
    findAccount: (_ctx, id) => account(id),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    // Claims of the granted scopes go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: [randomUUID()] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Client-credentials tokens are for ferroflow's API; login tokens stay the
        // provider's own (opaque, good for userinfo).
        defaultResource: (ctx, _client, oneOf) => {
          if (oneOf) return oneOf;
          return ctx.oidc.params?.grant_type === 'client_credentials' ? RESOURCE : undefined;
        },
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: AUDIENCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ACCESS_TOKEN_TTL,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // First-party client: consent is implied.
    async loadExistingGrant(ctx) {
      const grantId =
        ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (ctx.oidc.client.clientId !== CLIENT_ID) return undefined;
      const grant = new ctx.oidc.provider.Grant({
        clientId: CLIENT_ID,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
    ttl: { AccessToken: 600, IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  };
}

/** Reads a form body (the login form is a few hundred bytes). */
async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function refuse(res, uid) {
  res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
  res.end(
    `<!doctype html><title>Sign-in failed</title><p id="error">Wrong login or password.</p>` +
      `<p><a href="/interaction/${encodeURIComponent(uid)}">Try again</a></p>`,
  );
}

const server = http.createServer();
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  const provider = new Provider(issuer, configuration());
  const exact = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(uri) {
    return exact.call(this, uri) || (this.clientId === CLIENT_ID && LOOPBACK_CALLBACK.test(uri));
  };
  const handle = provider.callback();
  server.on('request', async (req, res) => {
    // The development login form takes any password; check it before the provider sees it.
    const submit = req.method === 'POST' && /^\/interaction\/[^/]+$/.exec(req.url ?? '');
    if (!submit) return handle(req, res);
    const raw = await readForm(req);
    const form = querystring.parse(raw);
    if (form.prompt === 'login') {
      const login = String(form.login ?? '');
      if (!USERS[login] || form.password !== `${login}-password`) {
        return refuse(res, req.url.split('/').pop());
      }
    }
    req.body = raw;
    return handle(req, res);
  });
  console.log(`READY ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
