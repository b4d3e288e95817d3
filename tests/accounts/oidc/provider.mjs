// A real OpenID Connect provider for the single sign-on tests: the certified `oidc-provider` package
// (https://github.com/panva/node-oidc-provider) with its development sign-in pages, which accept any
// login. The login typed is the account: "dana@pixels.test" signs in as that address, verified;
// a login starting with "unverified-" gives an address the provider says it did not verify.
import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const issuer = `http://127.0.0.1:${PORT}`;

function claimsOf(login) {
  const email = login.includes('@') ? login : `${login}@example.test`;
  const name = email.split('@')[0].replace(/^unverified-/, '');
  return {
    sub: login,
    email,
    email_verified: !login.startsWith('unverified-'),
    name: name.charAt(0).toUpperCase() + name.slice(1),
    preferred_username: name,
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  cookies: { keys: ['tests-only-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return claimsOf(sub); } };
  },
});

const server = provider.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
