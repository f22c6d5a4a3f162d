// Code written for a managed identity with @azure/identity, run unchanged against
// `certgen serve`: default options, the environment only (IDENTITY_ENDPOINT and IDENTITY_HEADER,
// or AZURE_POD_IDENTITY_AUTHORITY_HOST). Run by tests/it/serve/managed_identity_clients.rs.
// argv[2]: a JSON list of cases {"name", "client": "mi" | "default", "client_id"?}. Prints one
// JSON object: by case name, {"access_token": ...} or {"error": ...}.
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";

const SCOPE = "https://graph.microsoft.com/.default";

function credential({ client, client_id }) {
  if (client === "default") return new DefaultAzureCredential();
  return client_id ? new ManagedIdentityCredential({ clientId: client_id }) : new ManagedIdentityCredential();
}

const results = {};
for (const c of JSON.parse(process.argv[2])) {
  try {
    const token = await credential(c).getToken(SCOPE);
    results[c.name] = { access_token: token.token, expires_on: token.expiresOnTimestamp };
  } catch (e) {
    results[c.name] = { error: String(e && e.message ? e.message : e) };
  }
}
console.log(JSON.stringify(results));
