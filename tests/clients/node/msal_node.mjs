// An app written for Entra with MSAL Node, run unchanged against `certgen serve` through the
// SNI route: MSAL Node's HTTP client ignores HTTPS_PROXY, so the test points
// login.microsoftonline.com at serve with a hosts entry (in a network namespace) and sets only
// NODE_EXTRA_CA_CERTS. Run by tests/it/serve/proxy.rs. Inputs: TENANT, CLIENT_ID, SCOPE, KEY_PEM,
// THUMBPRINT_SHA256 (hex), CLIENT_SECRET. Prints one JSON object, one entry per credential.
import { readFileSync } from "node:fs";
import { ConfidentialClientApplication } from "@azure/msal-node";

const { TENANT, CLIENT_ID, SCOPE, KEY_PEM, THUMBPRINT_SHA256, CLIENT_SECRET } = process.env;
const authority = `https://login.microsoftonline.com/${TENANT}`;

async function attempt(auth) {
  try {
    const app = new ConfidentialClientApplication({
      auth: { clientId: CLIENT_ID, authority, ...auth },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    return { access_token: result.accessToken };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

const results = {
  msal_node_certificate: await attempt({
    clientCertificate: {
      thumbprintSha256: THUMBPRINT_SHA256,
      privateKey: readFileSync(KEY_PEM, "utf8"),
    },
  }),
  msal_node_secret: await attempt({ clientSecret: CLIENT_SECRET }),
};
console.log(JSON.stringify(results));
process.exit(Object.values(results).every((r) => r.access_token) ? 0 : 1);
