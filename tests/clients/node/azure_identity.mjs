// An app written for Entra with @azure/identity, run unchanged against `certgen serve --proxy`:
// default options, only HTTPS_PROXY and NODE_EXTRA_CA_CERTS set in the environment.
// Run by tests/it/serve/proxy.rs. Inputs: TENANT, CLIENT_ID, SCOPE, CERT_AND_KEY_PEM (one PEM file
// holding the certificate and its key), CLIENT_SECRET. Prints one JSON object, one entry per
// credential: {"access_token": ...} or {"error": ...}.
import { ClientCertificateCredential, ClientSecretCredential } from "@azure/identity";

const { TENANT, CLIENT_ID, SCOPE, CERT_AND_KEY_PEM, CLIENT_SECRET } = process.env;

async function attempt(make) {
  try {
    const token = await make().getToken(SCOPE);
    return { access_token: token.token };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

const results = {
  azure_identity_certificate: await attempt(
    () => new ClientCertificateCredential(TENANT, CLIENT_ID, CERT_AND_KEY_PEM),
  ),
  azure_identity_secret: await attempt(
    () => new ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET),
  ),
};
console.log(JSON.stringify(results));
process.exit(Object.values(results).every((r) => r.access_token) ? 0 : 1);
