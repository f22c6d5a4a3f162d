#!/usr/bin/env python3
"""A Kubernetes workload written for Entra with Azure Identity for Python, run unchanged against
`certgen serve --proxy`: no argument to the credentials, everything from the environment the
azure-workload-identity webhook injects (AZURE_CLIENT_ID, AZURE_TENANT_ID,
AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST) plus serve's proxy variables (HTTPS_PROXY,
REQUESTS_CA_BUNDLE).

Run by tests/it/serve/workload.rs. Prints one JSON object: for WorkloadIdentityCredential and
DefaultAzureCredential, {"access_token": ..., "users": N} (N: the users Graph listed with that
token) or {"error": ...}. Exit 0 when both got a token and the users.
"""

import json
import sys

import requests

GRAPH = "https://graph.microsoft.com"


def attempt(make):
    try:
        token = make().get_token(GRAPH + "/.default").token
        users = requests.get(
            GRAPH + "/v1.0/users", headers={"Authorization": "Bearer " + token}, timeout=20
        )
        users.raise_for_status()
        return {"access_token": token, "users": len(users.json()["value"])}
    except Exception as e:  # reported, not raised: the test shows which client failed and why
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    from azure.identity import DefaultAzureCredential, WorkloadIdentityCredential

    results = {
        "workload_identity": attempt(WorkloadIdentityCredential),
        "default": attempt(DefaultAzureCredential),
    }
    print(json.dumps(results))
    return 0 if all("access_token" in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
