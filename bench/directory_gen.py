#!/usr/bin/env python3
"""Writes an organisation-sized `certgen serve` config (not a test; bench/directory.sh uses it).

    bench/directory_gen.py OUT_DIR [--apps N] [--users N] [--inline-users]

OUT_DIR/serve.toml gets one tenant, one resource API (api://orders, two app roles) and N apps,
each with a client secret read from $ORG_SECRET and the Orders.Read role (the first also
Microsoft Graph's User.Read.All, to list the users); the users go to
OUT_DIR/users.jsonl (Graph user objects, camelCase, one a line), named by `users_file`, or
with --inline-users as [[user]] tables in serve.toml. Ids are derived from the index, so two
runs write the same files.
"""
import argparse
import json
import os
import uuid

TENANT = "11111111-1111-1111-1111-111111111111"
ORDERS = "33333333-3333-3333-3333-333333333333"
NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def client_id(i):
    return str(uuid.uuid5(NS, f"certgen bench app {i}"))


def user(i):
    name = f"user{i:06d}"
    return {
        "id": str(uuid.uuid5(NS, f"certgen bench user {i}")),
        "userPrincipalName": f"{name}@contoso.example",
        "displayName": f"User {i:06d}",
        "givenName": "User",
        "surname": f"{i:06d}",
        "mail": f"{name}@contoso.example",
        "jobTitle": "Engineer",
        "businessPhones": [],
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--apps", type=int, default=10_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--inline-users", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "serve.toml"), "w") as f:
        if not a.inline_users and a.users:
            f.write('users_file = "users.jsonl"\n\n')
        f.write(f'[[tenant]]\nid = "{TENANT}"\ndomains = ["contoso.example"]\n\n')
        f.write(
            f'[[resource]]\napp_id = "{ORDERS}"\ndisplay_name = "Orders API"\n'
            'identifier_uris = ["api://orders"]\nroles = ["Orders.Read", "Orders.Write"]\n\n'
        )
        for i in range(a.apps):
            f.write(
                f'[[app]]\nclient_id = "{client_id(i)}"\ndisplay_name = "app {i:05d}"\n'
                f'secret_env = ["ORG_SECRET"]\n[app.roles]\n"api://orders" = ["Orders.Read"]\n'
            )
            if i == 0:
                f.write('"https://graph.microsoft.com" = ["User.Read.All"]\n')
            f.write("\n")
        if a.inline_users:
            for i in range(a.users):
                u = user(i)
                f.write(
                    f'[[user]]\nid = "{u["id"]}"\nuser_principal_name = "{u["userPrincipalName"]}"\n'
                    f'display_name = "{u["displayName"]}"\nmail = "{u["mail"]}"\n\n'
                )
    if not a.inline_users and a.users:
        with open(os.path.join(a.out, "users.jsonl"), "w") as f:
            for i in range(a.users):
                f.write(json.dumps(user(i), separators=(",", ":")) + "\n")
    print(json.dumps({"first_app": client_id(0), "last_app": client_id(a.apps - 1),
                      "tenant": TENANT, "resource": "api://orders",
                      "last_user": user(a.users - 1)["userPrincipalName"] if a.users else None}))


if __name__ == "__main__":
    main()
