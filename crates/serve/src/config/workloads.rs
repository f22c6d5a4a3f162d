//! `[[workload]]` in the config file: the entry as written, checked into a [`Workload`]
//! (the model's; what serve does with one is `crate::workload`'s).
//!
//! A workload is what runs somewhere with an identity of its own (a GitHub Actions job, a
//! Kubernetes pod) and proves it with its platform's token. serve plays the platform: it signs
//! the token, and the app must hold a federated credential that matches it — a workload entry
//! makes none, as in Entra, where the two are set up separately
//! (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation>).

use std::collections::HashSet;

use serde::Deserialize;

use super::model::{Platform, Workload};
use crate::error::{Result, ServeError};

/// GitHub's OIDC issuer, as GitHub names it
/// (<https://docs.github.com/en/actions/reference/security/oidc>): the real name, so the
/// federated credential a user writes for serve is the one they write for Entra.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The issuer of a cluster's service-account tokens when `--service-account-issuer` is not set
/// (the API server's in-cluster name,
/// <https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/>). A managed
/// cluster's is a per-cluster URL (AKS: `https://<region>.oic.prod-aks.azure.com/<tenant>/<guid>/`);
/// set `issuer` to rehearse that one.
pub const KUBERNETES_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// A Kubernetes token's default lifetime: the workload-identity webhook's default
/// `service-account-token-expiration` (3600 s).
pub const KUBERNETES_LIFETIME_SECS: u64 = 3600;
/// Bounds of `token_lifetime`. Kubernetes itself allows 600 s to 24 h for a projected token
/// (<https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken>); a
/// shorter one is allowed here so a test or a demo can watch the file being rewritten.
pub const MIN_LIFETIME_SECS: u64 = 5;
pub const MAX_LIFETIME_SECS: u64 = 86_400;

/// Longest issuer, as Entra bounds a federated credential's `issuer` (600 characters).
const MAX_ISSUER: usize = 600;

/// One `[[workload]]` as written (snake_case keys like the rest of the file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadEntry {
    pub name: String,
    /// `github` or `kubernetes`.
    pub kind: String,
    /// The client id it signs in as.
    pub app: String,
    /// github: `OWNER/REPO`.
    pub repository: Option<String>,
    /// github: a full ref (`refs/heads/main`, `refs/tags/v1`).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// github: the job's deployment environment, which then names the subject.
    pub environment: Option<String>,
    /// github: the event that started the run (default `push`); `pull_request` names the
    /// subject when no environment does.
    pub event: Option<String>,
    /// kubernetes: the pod's namespace.
    pub namespace: Option<String>,
    /// kubernetes: the pod's service account.
    pub service_account: Option<String>,
    /// kubernetes: seconds each written token lives.
    pub token_lifetime: Option<u64>,
    /// The `iss` its tokens carry, instead of the platform's default.
    pub issuer: Option<String>,
}

/// Every `[[workload]]`, checked: one `error:` naming the workload and the field.
pub fn workloads(entries: &[WorkloadEntry]) -> Result<Vec<Workload>> {
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let w = workload(e)?;
        if !names.insert(w.name.clone()) {
            return Err(invalid(&w.name, "is listed twice in the config file"));
        }
        out.push(w);
    }
    Ok(out)
}

fn invalid(name: &str, why: &str) -> ServeError {
    ServeError::Invalid(format!("workload '{name}' {why}"))
}

fn workload(e: &WorkloadEntry) -> Result<Workload> {
    let name = e.name.trim();
    // It names a URL path segment and a folder: letters, digits, `-`, `_`.
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ServeError::Invalid(format!(
            "workload name '{}' must be 1 to 64 letters, digits, '-' or '_'",
            e.name
        )));
    }
    let app = uuid::Uuid::parse_str(e.app.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| invalid(name, &format!("app '{}' is not a client id (GUID)", e.app)))?;
    let only = |field: &str, set: bool, kind: &str| {
        if set {
            Err(invalid(
                name,
                &format!("has {field}, which a {kind} workload does not take"),
            ))
        } else {
            Ok(())
        }
    };
    let need = |field: &str, v: &Option<String>| -> Result<String> {
        match v.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(invalid(name, &format!("needs {field}"))),
        }
    };
    let (platform, default_issuer) = match e.kind.trim() {
        "github" => {
            only("namespace", e.namespace.is_some(), "github")?;
            only("service_account", e.service_account.is_some(), "github")?;
            only("token_lifetime", e.token_lifetime.is_some(), "github")?;
            let repository = need("repository (OWNER/REPO)", &e.repository)?;
            if !repository_ok(&repository) {
                return Err(invalid(
                    name,
                    &format!("repository '{repository}' is not OWNER/REPO"),
                ));
            }
            let git_ref = need("ref (a full ref such as refs/heads/main)", &e.git_ref)?;
            if !git_ref.starts_with("refs/")
                || git_ref.len() > 255
                || git_ref.contains(char::is_whitespace)
            {
                return Err(invalid(
                    name,
                    &format!(
                        "ref '{git_ref}' is not a full ref such as refs/heads/main or refs/tags/v1"
                    ),
                ));
            }
            let environment = match &e.environment {
                None => None,
                Some(env) => {
                    let env = env.trim();
                    // GitHub: environment names are at most 255 characters.
                    if env.is_empty() || env.len() > 255 || env.chars().any(char::is_control) {
                        return Err(invalid(
                            name,
                            "environment must be 1 to 255 characters, without control characters",
                        ));
                    }
                    Some(env.to_string())
                }
            };
            let event = e.event.as_deref().unwrap_or("push").trim().to_string();
            // GitHub's event names: lower-case words joined by `_` (`push`, `pull_request`,
            // `workflow_dispatch`…).
            if event.is_empty()
                || event.len() > 64
                || !event.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                return Err(invalid(
                    name,
                    &format!(
                        "event '{event}' is not a GitHub event name such as push or pull_request"
                    ),
                ));
            }
            (
                Platform::Github {
                    repository,
                    git_ref,
                    environment,
                    event,
                },
                GITHUB_ISSUER,
            )
        }
        "kubernetes" => {
            only("repository", e.repository.is_some(), "kubernetes")?;
            only("ref", e.git_ref.is_some(), "kubernetes")?;
            only("environment", e.environment.is_some(), "kubernetes")?;
            only("event", e.event.is_some(), "kubernetes")?;
            let namespace = need("namespace", &e.namespace)?;
            if !dns_label(&namespace) {
                return Err(invalid(
                    name,
                    &format!(
                        "namespace '{namespace}' is not a DNS label (a-z, 0-9, '-', at most 63)"
                    ),
                ));
            }
            let service_account = need("service_account", &e.service_account)?;
            if !(service_account.len() <= 253 && service_account.split('.').all(dns_label)) {
                return Err(invalid(
                    name,
                    &format!(
                        "service_account '{service_account}' is not a DNS subdomain name (a-z, 0-9, '-', '.')"
                    ),
                ));
            }
            let lifetime_secs = e.token_lifetime.unwrap_or(KUBERNETES_LIFETIME_SECS);
            if !(MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&lifetime_secs) {
                return Err(invalid(
                    name,
                    &format!(
                        "token_lifetime {lifetime_secs} is outside {MIN_LIFETIME_SECS} to {MAX_LIFETIME_SECS} seconds"
                    ),
                ));
            }
            (
                Platform::Kubernetes {
                    namespace,
                    service_account,
                    lifetime_secs,
                },
                KUBERNETES_ISSUER,
            )
        }
        other => {
            return Err(invalid(
                name,
                &format!("has kind '{other}': use \"github\" or \"kubernetes\""),
            ))
        }
    };
    let issuer = match &e.issuer {
        None => default_issuer.to_string(),
        Some(i) => {
            let i = i.trim();
            let parsed = url::Url::parse(i).ok();
            if i.len() > MAX_ISSUER
                || parsed
                    .as_ref()
                    .is_none_or(|u| u.scheme() != "https" || u.host().is_none())
            {
                return Err(invalid(
                    name,
                    &format!("issuer '{i}' is not an https URL of at most {MAX_ISSUER} characters"),
                ));
            }
            i.to_string()
        }
    };
    Ok(Workload {
        name: name.to_string(),
        app,
        issuer,
        platform,
    })
}

/// GitHub owner and repository names: letters, digits, `-`, `_`, `.`.
fn repository_ok(r: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(r.split_once('/'), Some((o, n)) if part(o) && part(n))
}

/// An RFC 1123 label, as Kubernetes names namespaces.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Vec<Workload>> {
        #[derive(Deserialize)]
        struct File {
            workload: Vec<WorkloadEntry>,
        }
        let f: File = toml::from_str(toml_text).expect("toml");
        workloads(&f.workload)
    }

    const APP: &str = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";

    #[test]
    fn each_field_refused_with_one_sentence() {
        let cases = [
            ("name = \"a b\"\nkind = \"github\"", "must be 1 to 64"),
            ("name = \"w\"\nkind = \"gitlab\"", "use \"github\" or \"kubernetes\""),
            ("name = \"w\"\nkind = \"github\"\nref = \"refs/heads/main\"", "needs repository"),
            ("name = \"w\"\nkind = \"github\"\nrepository = \"contoso\"\nref = \"refs/heads/main\"", "is not OWNER/REPO"),
            ("name = \"w\"\nkind = \"github\"\nrepository = \"o/r\"\nref = \"main\"", "is not a full ref"),
            ("name = \"w\"\nkind = \"github\"\nrepository = \"o/r\"\nref = \"refs/heads/main\"\nnamespace = \"x\"", "which a github workload does not take"),
            ("name = \"w\"\nkind = \"github\"\nrepository = \"o/r\"\nref = \"refs/heads/main\"\nevent = \"Pull Request\"", "is not a GitHub event name"),
            ("name = \"w\"\nkind = \"kubernetes\"\nnamespace = \"prod\"\nservice_account = \"sa\"\nevent = \"push\"", "which a kubernetes workload does not take"),
            ("name = \"w\"\nkind = \"kubernetes\"\nnamespace = \"Prod\"\nservice_account = \"sa\"", "is not a DNS label"),
            ("name = \"w\"\nkind = \"kubernetes\"\nnamespace = \"prod\"", "needs service_account"),
            ("name = \"w\"\nkind = \"kubernetes\"\nnamespace = \"prod\"\nservice_account = \"sa\"\ntoken_lifetime = 1", "outside 5 to 86400"),
            ("name = \"w\"\nkind = \"kubernetes\"\nnamespace = \"prod\"\nservice_account = \"sa\"\nissuer = \"http://x\"", "is not an https URL"),
        ];
        for (body, want) in cases {
            let text = format!("[[workload]]\napp = \"{APP}\"\n{body}\n");
            let e = parse(&text).expect_err(body).to_string();
            assert!(e.contains(want), "{body}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let text = "[[workload]]\nname = \"w\"\nkind = \"github\"\napp = \"nope\"\nrepository = \"o/r\"\nref = \"refs/heads/main\"\n";
        assert!(parse(text)
            .unwrap_err()
            .to_string()
            .contains("is not a client id"));
    }

    #[test]
    fn default_issuers_and_one_entry_per_name() {
        let text = format!(
            "[[workload]]\nname = \"ci\"\nkind = \"github\"\napp = \"{APP}\"\nrepository = \"contoso/api\"\nref = \"refs/heads/main\"\n\
             [[workload]]\nname = \"pod\"\nkind = \"kubernetes\"\napp = \"{APP}\"\nnamespace = \"shop\"\nservice_account = \"orders\"\n"
        );
        let w = parse(&text).unwrap();
        assert_eq!(w[0].issuer, GITHUB_ISSUER);
        assert_eq!(w[1].issuer, KUBERNETES_ISSUER);
        assert_eq!(
            w[1].platform,
            Platform::Kubernetes {
                namespace: "shop".into(),
                service_account: "orders".into(),
                lifetime_secs: KUBERNETES_LIFETIME_SECS,
            }
        );
        let twice = format!("{text}[[workload]]\nname = \"ci\"\nkind = \"github\"\napp = \"{APP}\"\nrepository = \"o/r\"\nref = \"refs/heads/main\"\n");
        assert!(parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
    }
}
