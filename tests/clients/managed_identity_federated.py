#!/usr/bin/env python3
"""A user-assigned managed identity's token as an app's federated credential, with Azure
Identity for Python as Microsoft documents the pattern: ManagedIdentityCredential gets the
identity's token for api://AzureADTokenExchange, and ClientAssertionCredential hands it to Entra
as the app's client assertion.
https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity

Run by tests/it/serve/managed_identity_federated.rs. Environment: IDENTITY_ENDPOINT and
IDENTITY_HEADER (serve's ready line), MI_CLIENT_ID, AUTHORITY_HOST, TENANT, APP_CLIENT_ID,
REQUESTS_CA_BUNDLE. Prints the app's Graph access token.
"""

import os

from azure.identity import ClientAssertionCredential, ManagedIdentityCredential

identity = ManagedIdentityCredential(client_id=os.environ["MI_CLIENT_ID"])


def assertion():
    return identity.get_token("api://AzureADTokenExchange/.default").token


app = ClientAssertionCredential(
    os.environ["TENANT"],
    os.environ["APP_CLIENT_ID"],
    assertion,
    authority=os.environ["AUTHORITY_HOST"],
    disable_instance_discovery=True,
)
print(app.get_token("https://graph.microsoft.com/.default").token)
