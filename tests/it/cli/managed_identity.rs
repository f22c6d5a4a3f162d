//! `certgen token --managed-identity` against `certgen serve`'s platform endpoints, with the
//! ready line's environment: each selector, both shapes, and the platform's refusals as one
//! `error:` line with a hint and the documented exit codes.

use std::process::{Command, Output};

use crate::serve::managed_identity::*;
use crate::support::graph::claims_of;
use crate::support::serve::Server;
use crate::support::token_stub::CLEAN_ENV;
use crate::support::{assert_clean_failure, stdout};

/// `certgen ARGS` with the ready line's managed-identity variables only (`imds`: without App
/// Service's pair), and `extra`.
fn certgen(s: &Server, imds: bool, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certgen"));
    cmd.args(args);
    for var in CLEAN_ENV {
        cmd.env_remove(var);
    }
    for var in [
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ] {
        cmd.env_remove(var);
        if !(imds && var.starts_with("IDENTITY_")) {
            cmd.env(var, env_of(s, var));
        }
    }
    cmd.envs(extra.iter().copied());
    cmd.output().unwrap()
}

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn claims(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    claims_of(stdout(out).trim())
}

#[test]
fn token_managed_identity_each_selector_and_shape() {
    let s = mi_server(&[]);
    for imds in [false, true] {
        let c = claims(&certgen(&s, imds, &[], &["token", "--managed-identity"]));
        assert_eq!(c["appid"], SYSTEM_MI, "imds={imds}");
        assert_eq!(c["aud"], "https://graph.microsoft.com");
        for (args, env) in [
            (vec!["--client-id", READER_MI], vec![]),
            (vec![], vec![("AZURE_CLIENT_ID", READER_MI)]),
            (vec!["--object-id", READER_MI_PRINCIPAL], vec![]),
            (vec!["--resource-id", READER_MI_RESOURCE], vec![]),
            // A flag wins over AZURE_CLIENT_ID.
            (
                vec!["--object-id", READER_MI_PRINCIPAL],
                vec![("AZURE_CLIENT_ID", USER_MI)],
            ),
        ] {
            let mut all = vec![
                "token",
                "--managed-identity",
                "--scope",
                "https://vault.azure.net/.default",
            ];
            all.extend(&args);
            let c = claims(&certgen(&s, imds, &env, &all));
            assert_eq!(c["appid"], READER_MI, "{args:?} {env:?} imds={imds}");
            assert_eq!(c["aud"], "https://vault.azure.net");
        }
    }
    // `certgen call` takes the same flags: Graph answers the identity with User.Read.All and
    // refuses the one without it.
    let users = format!("{}/users", s.field("graph"));
    let ca = s.field("ca_file");
    let out = certgen(
        &s,
        false,
        &[],
        &[
            "call",
            &users,
            "--managed-identity",
            "--ca-file",
            &ca,
            "--scope",
            GRAPH_SCOPE,
        ],
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert!(!body["value"].as_array().unwrap().is_empty(), "{body}");
    let out = certgen(
        &s,
        false,
        &[],
        &[
            "call",
            &users,
            "--managed-identity",
            "--client-id",
            USER_MI,
            "--ca-file",
            &ca,
            "--scope",
            GRAPH_SCOPE,
        ],
    );
    let err = assert_clean_failure(&out, 3);
    assert!(err.contains("Authorization_RequestDenied"), "{err}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "hint: an administrator grants it to the managed identity by an app role assignment \
             (no portal page does): Graph POST /servicePrincipals/{USER_MI_PRINCIPAL}/appRoleAssignments"
        )),
        "{stderr}"
    );
    // --output json shows the claims, and the token came from the network.
    let out = certgen(
        &s,
        false,
        &[],
        &["token", "--managed-identity", "--output", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["source"], "network");
    assert_eq!(json["claims"]["xms_mirid"], VM_RESOURCE);
}

#[test]
fn token_managed_identity_refusals() {
    let s = mi_server(&[]);
    let out = certgen(
        &s,
        false,
        &[],
        &[
            "token",
            "--managed-identity",
            "--client-id",
            "5e5e5e5e-0000-4000-8000-0000000000ff",
        ],
    );
    assert_clean_failure(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "error: the managed-identity endpoint {} refused (400): invalid_request: Identity not found\nhint: this resource has no such identity",
            env_of(&s, "IDENTITY_ENDPOINT")
        )),
        "{err}"
    );
    let out = certgen(
        &s,
        true,
        &[],
        &[
            "token",
            "--managed-identity",
            "--scope",
            "api://nowhere/.default",
        ],
    );
    assert_clean_failure(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused (400): invalid_resource: AADSTS50001: The application named api://nowhere was not found")
            && err.contains("hint: the tenant has no such resource"),
        "{err}"
    );
    // Flags that belong to an app's credential do not mix with it; the selectors need it.
    for (args, what) in [
        (
            vec!["token", "--managed-identity", "--secret-file", "s.txt"],
            "'--managed-identity' cannot be used with '--secret-file <F>'",
        ),
        (
            vec!["token", "--object-id", USER_MI_PRINCIPAL],
            "required arguments were not provided: --managed-identity",
        ),
        (
            vec![
                "token",
                "--managed-identity",
                "--object-id",
                "x",
                "--resource-id",
                "y",
            ],
            "'--object-id <ID>' cannot be used with '--resource-id <ID>'",
        ),
    ] {
        let out = certgen(&s, false, &[], &args);
        let err = assert_clean_failure(&out, 2);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    // Commands that work on an app's own certificates refuse it.
    for args in [
        vec!["credential", "list", "--managed-identity"],
        vec!["rotate", "--managed-identity"],
    ] {
        let out = certgen(&s, false, &[], &args);
        let err = assert_clean_failure(&out, 2);
        assert_eq!(
            err,
            "error: --managed-identity: this command works on an app's own certificates, and a managed identity has none",
            "{args:?}"
        );
    }
    // A platform certgen does not support, named from the environment: refused before sending.
    let out = certgen(
        &s,
        true,
        &[
            ("MSI_ENDPOINT", "http://127.0.0.1:9/msi"),
            ("MSI_SECRET", "x"),
        ],
        &["token", "--managed-identity"],
    );
    let err = assert_clean_failure(&out, 1);
    assert!(
        err.contains(
            "the managed identity of Azure Machine Learning, which certgen does not support"
        ),
        "{err}"
    );
    // Nothing answering: a transport failure, exit 4, with what to export.
    let out = certgen(
        &s,
        true,
        &[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            &format!(
                "http://127.0.0.1:{}",
                crate::support::token_stub::closed_port()
            ),
        )],
        &["token", "--managed-identity", "--timeout", "5"],
    );
    assert_clean_failure(&out, 4);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hint: the managed-identity endpoint answers only on Azure"),
        "{err}"
    );
}
