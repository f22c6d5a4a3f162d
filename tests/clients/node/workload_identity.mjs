// A Kubernetes workload written for Entra with @azure/identity, run unchanged against
// `certgen serve --proxy`: WorkloadIdentityCredential and DefaultAzureCredential with no options,
// the webhook's four AZURE_* variables and serve's HTTPS_PROXY + NODE_EXTRA_CA_CERTS only.
// Run by tests/it/serve/workload.rs. Prints one JSON object, one entry per credential:
// {"access_token": ...} or {"error": ...}.
import { DefaultAzureCredential, WorkloadIdentityCredential } from "@azure/identity";

const SCOPE = "https://graph.microsoft.com/.default";

async function attempt(make) {
  try {
    const token = await make().getToken(SCOPE);
    return { access_token: token.token };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

const results = {
  workload_identity: await attempt(() => new WorkloadIdentityCredential()),
  default: await attempt(() => new DefaultAzureCredential()),
};
console.log(JSON.stringify(results));
process.exit(Object.values(results).every((r) => r.access_token) ? 0 : 1);
