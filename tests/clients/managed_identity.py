"""Code written for a managed identity on Azure, run unchanged against `certgen serve`: Azure
Identity's ManagedIdentityCredential and DefaultAzureCredential, and MSAL's
ManagedIdentityClient, configured by the environment only (IDENTITY_ENDPOINT/IDENTITY_HEADER or
AZURE_POD_IDENTITY_AUTHORITY_HOST, plus HTTPS_PROXY and REQUESTS_CA_BUNDLE for Graph). Run by
tests/it/serve/managed_identity_clients.rs.

argv[1]: a JSON list of cases {"name", "client": "mi" | "default" | "msal", "client_id"?}.
Each case gets a Graph token and calls GET https://graph.microsoft.com/v1.0/users with it.
Prints one JSON object: by case name, {"access_token", "graph_status", "graph_error", "users"}
or {"error", "message"}.
"""

import json
import sys

import requests

GRAPH = "https://graph.microsoft.com"


def azure_identity(client, client_id):
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if client == "default":
        credential = DefaultAzureCredential()
    elif client_id:
        credential = ManagedIdentityCredential(client_id=client_id)
    else:
        credential = ManagedIdentityCredential()
    return credential.get_token(GRAPH + "/.default").token


def msal_client(client_id):
    import msal

    if client_id:
        identity = msal.UserAssignedManagedIdentity(client_id=client_id)
    else:
        identity = msal.SystemAssignedManagedIdentity()
    app = msal.ManagedIdentityClient(identity, http_client=requests.Session())
    result = app.acquire_token_for_client(resource=GRAPH)
    if "access_token" not in result:
        raise RuntimeError(json.dumps(result))
    return result["access_token"]


def run(case):
    client, client_id = case["client"], case.get("client_id")
    if client == "msal":
        token = msal_client(client_id)
    else:
        token = azure_identity(client, client_id)
    resp = requests.get(
        GRAPH + "/v1.0/users",
        headers={"Authorization": "Bearer " + token},
        timeout=30,
    )
    body = resp.json()
    return {
        "access_token": token,
        "graph_status": resp.status_code,
        "graph_error": (body.get("error") or {}).get("code"),
        "users": len(body.get("value", [])),
    }


results = {}
for case in json.loads(sys.argv[1]):
    try:
        results[case["name"]] = run(case)
    except Exception as e:  # the test reports what the client raised
        results[case["name"]] = {"error": type(e).__name__, "message": str(e)}
print(json.dumps(results))
