// A GitHub Actions step asking for its OIDC token with @actions/core, unchanged: getIDToken()
// reads ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN from the environment
// (certgen serve's ready line gives both) and NODE_EXTRA_CA_CERTS trusts serve's certificate.
// Run by tests/it/serve/workload.rs. Input: AUDIENCE. Prints {"value": JWT} or {"error": ...}.
import * as core from "@actions/core";

try {
  const value = await core.getIDToken(process.env.AUDIENCE);
  console.log(JSON.stringify({ value }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
  process.exit(1);
}
