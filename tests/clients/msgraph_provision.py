#!/usr/bin/env python3
"""Provisioning with Microsoft's Graph SDK for Python (msgraph-sdk), run unchanged against
`certgen serve --proxy`: GraphServiceClient on the real https://graph.microsoft.com with a
ClientCertificateCredential on the real https://login.microsoftonline.com, only the
environment differing (HTTPS_PROXY, SSL_CERT_FILE, REQUESTS_CA_BUNDLE from serve's ready line).

Run by tests/it/serve/graph_writes.rs. Inputs (environment):

  TENANT      the tenant id
  CLIENT_ID   the admin app's client id (Application.ReadWrite.All)
  CERT_PEM    one PEM file with the app's private key and certificate
  NAME        the display name of the application to make

Makes an application, a service principal for it and a secret, then lists applications whose
name starts with NAME. Prints one JSON object: {"id", "appId", "secret", "sp", "listed": [...]}.
"""

import asyncio
import json
import os

from azure.identity.aio import CertificateCredential
from msgraph import GraphServiceClient
from msgraph.generated.applications.applications_request_builder import (
    ApplicationsRequestBuilder,
)
from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.generated.models.application import Application
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.service_principal import ServicePrincipal
from kiota_abstractions.base_request_configuration import RequestConfiguration


async def main():
    name = os.environ["NAME"]
    credential = CertificateCredential(
        os.environ["TENANT"], os.environ["CLIENT_ID"], certificate_path=os.environ["CERT_PEM"]
    )
    client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
    app = await client.applications.post(Application(display_name=name))
    sp = await client.service_principals.post(ServicePrincipal(app_id=app.app_id))
    secret = await client.applications.by_application_id(app.id).add_password.post(
        AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="sdk"))
    )
    query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
        filter=f"startswith(displayName,'{name}')", select=["id", "appId", "displayName"]
    )
    listed = await client.applications.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    await credential.close()
    print(
        json.dumps(
            {
                "id": app.id,
                "appId": app.app_id,
                "sp": sp.id,
                "secret": secret.secret_text,
                "listed": [a.display_name for a in listed.value],
            }
        )
    )


asyncio.run(main())
