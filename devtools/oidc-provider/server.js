// A development OpenID Connect provider on panva's certified oidc-provider. It vouches for
// whoever asks: a person types any name (and, if they like, an email) and approves.
// Never expose it. Settings come from the environment:
//   ISSUER         http://127.0.0.1:5002 (the port is taken from it)
//   PORT           listen on this port instead (behind a proxy that the issuer names)
//   REDIRECT_URIS  comma-separated, e.g. http://127.0.0.1:5000/login/return/dev-oidc
//   CLIENT_ID, CLIENT_SECRET   microblog, dev-oidc-secret
//   AUTO_APPROVE   a name: approve every login at once as that name (scripted logins)
//   POST_LOGOUT_REDIRECT_URIS  comma-separated, e.g. http://127.0.0.1:5000/logout/return/dev-oidc
//   BACKCHANNEL_LOGOUT_URI     e.g. http://127.0.0.1:5000/logout/backchannel/dev-oidc: ending a
//                  sign-in here (its "sign out?" page, /session/end) posts a logout token there
//   LOOPBACK_REDIRECTS=1  also accept any http://127.0.0.1:<port>/login/return/<key> and
//                  /logout/return/<key> (tests serve apps on ports they pick at run time)
import Provider from 'oidc-provider';

const issuer = process.env.ISSUER ?? 'http://127.0.0.1:5002';
const redirectUris = (process.env.REDIRECT_URIS || 'http://127.0.0.1:5000/login/return/dev-oidc')
  .split(',').map((uri) => uri.trim()).filter(Boolean);
const clientId = process.env.CLIENT_ID ?? 'microblog';
const clientSecret = process.env.CLIENT_SECRET ?? 'dev-oidc-secret';
const postLogoutRedirectUris = (process.env.POST_LOGOUT_REDIRECT_URIS || '')
  .split(',').map((uri) => uri.trim()).filter(Boolean);
const backchannelLogoutUri = process.env.BACKCHANNEL_LOGOUT_URI ?? '';
const autoApprove = process.env.AUTO_APPROVE ?? '';
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const LOOPBACK_RETURN = /^http:\/\/127\.0\.0\.1:\d+\/login\/return\/[A-Za-z0-9._~-]+$/;
const LOOPBACK_LOGOUT_RETURN = /^http:\/\/127\.0\.0\.1:\d+\/logout\/return\/[A-Za-z0-9._~-]+$/;

// Who approved under which name, with the email they typed: the provider's "accounts".
const accounts = new Map();

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    post_logout_redirect_uris: postLogoutRedirectUris,
    // With the session required, ID tokens carry `sid` and logout tokens name it.
    ...(backchannelLogoutUri ? {
      backchannel_logout_uri: backchannelLogoutUri,
      backchannel_logout_session_required: true,
    } : {}),
  }],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
  },
  async findAccount(ctx, id) {
    const account = accounts.get(id) ?? { email: '', verified: false };
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, preferred_username: id, name: id };
        // Verified only when the person ticks the box: this provider proves nothing itself.
        if (account.email) {
          Object.assign(claims, { email: account.email, email_verified: account.verified });
        }
        return claims;
      },
    };
  },
  cookies: { keys: ['dev-oidc-provider-not-a-secret'] },
  // Its requests refuse loopback addresses (SSRF protection), and its only request is the
  // back-channel logout to the site beside it, on 127.0.0.1: only to that URI, allowed.
  fetch: (url, options) => globalThis.fetch(url, String(url) === backchannelLogoutUri
    ? { ...options, dispatcher: undefined } : options),
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    backchannelLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // The provider's own signing keys are generated at every start: fine for development.
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The "sign out?" page: `form` is the provider's own form (with its xsrf field), which the
// buttons submit; "Yes" ends the sign-in here and, by back-channel, at every site.
async function logoutSource(ctx, form) {
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Dev OIDC provider</title></head><body>
<h1>Sign out of Dev OIDC?</h1>
<p>This ends your sign-in at Dev OIDC, and at every site that trusts it.</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</body></html>`;
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Dev OIDC provider</title></head><body>
<h1>Signed out of Dev OIDC</h1></body></html>`;
}

function approvalPage(uid, clientName, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Dev OIDC provider</title></head><body>
<h1>Dev OIDC provider</h1>
<p><strong>${escape(clientName)}</strong> asks who you are. This provider vouches for anyone:
type any name.</p>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
  <p><label for="name">Name</label> <input id="name" name="name" autofocus></p>
  <p><label for="email">Email (optional)</label> <input id="email" name="email"></p>
  <p><label><input type="checkbox" name="email_verified" value="yes"> Say the email is verified</label></p>
  <button type="submit" name="decision" value="approve">Approve</button>
  <button type="submit" name="decision" value="cancel">Cancel</button>
</form></body></html>`;
}

async function formOf(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) break;
  }
  return new URLSearchParams(body);
}

async function signIn(ctx, name, email, verified = false) {
  accounts.set(name, { email, verified });
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: name } },
    { mergeWithLastSubmission: false });
  ctx.respond = false;
}

async function consent(ctx, details) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } },
    { mergeWithLastSubmission: true });
  ctx.respond = false;
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name === 'consent') return consent(ctx, details);
  if (autoApprove) return signIn(ctx, autoApprove, `${autoApprove}@dev.example`);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = approvalPage(details.uid, details.params.client_id);
    return undefined;
  }
  const form = await formOf(ctx.req);
  if (form.get('decision') !== 'approve') {
    await provider.interactionFinished(ctx.req, ctx.res,
      { error: 'access_denied', error_description: 'The person cancelled.' },
      { mergeWithLastSubmission: false });
    ctx.respond = false;
    return undefined;
  }
  const name = (form.get('name') ?? '').trim();
  if (!NAME.test(name)) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = approvalPage(details.uid, details.params.client_id,
      'A name is 1 to 64 letters, digits, dots, dashes or underscores.');
    return undefined;
  }
  return signIn(ctx, name, (form.get('email') ?? '').trim(), form.get('email_verified') === 'yes');
});

if (process.env.LOOPBACK_REDIRECTS === '1') {
  const registered = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function allowed(uri) {
    return LOOPBACK_RETURN.test(uri) || registered.call(this, uri);
  };
  const registeredLogout = provider.Client.prototype.postLogoutRedirectUriAllowed;
  provider.Client.prototype.postLogoutRedirectUriAllowed = function allowed(uri) {
    return LOOPBACK_LOGOUT_RETURN.test(uri) || registeredLogout.call(this, uri);
  };
}

provider.on('backchannel.error', (ctx, error, client) => {
  console.error(`Back-channel logout to ${client.backchannelLogoutUri} failed: ${error.message}`);
});

const port = Number(process.env.PORT || new URL(issuer).port || 80);
provider.listen(port, '127.0.0.1', () => {
  console.log(`Dev OIDC provider on ${issuer} (client ${clientId})`);
});
