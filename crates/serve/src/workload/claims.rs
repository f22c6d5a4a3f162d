//! The claims of a workload's token, as its platform writes them.

use serde_json::{json, Map, Value};

use crate::config::{name_based_guid, Platform, Workload};

/// A GitHub OIDC token's lifetime: `exp − iat` = 300 s
/// (<https://docs.github.com/en/actions/reference/security/oidc>, the example token).
pub const GITHUB_LIFETIME_SECS: i64 = 300;

/// The audience `azure/login` asks for and a Kubernetes projected token carries for Entra
/// (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-create-trust>).
pub const ENTRA_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Seconds since 1970.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// GitHub escapes `:` inside a subject's values (`%3A`), so the fields stay separable.
fn escape(v: &str) -> String {
    v.replace(':', "%3A")
}

/// The subject the workload's tokens carry: what a federated credential must name.
pub fn subject(w: &Workload) -> String {
    match &w.platform {
        Platform::Github {
            repository,
            git_ref,
            environment,
            event,
        } => match environment {
            // An environment job's subject names the environment; else a pull request's names
            // the event; else the ref (GitHub's order).
            Some(env) => format!("repo:{}:environment:{}", escape(repository), escape(env)),
            None if event == "pull_request" => format!("repo:{}:pull_request", escape(repository)),
            None => format!("repo:{}:ref:{}", escape(repository), escape(git_ref)),
        },
        Platform::Kubernetes {
            namespace,
            service_account,
            ..
        } => format!("system:serviceaccount:{namespace}:{service_account}"),
    }
}

/// A GitHub Actions job's OIDC token claims for `audience` (default: the owner's URL), as
/// GitHub documents them (<https://docs.github.com/en/actions/reference/security/oidc>).
/// The values GitHub takes from the run (ids, sha) are stable made-up ones: serve runs no job.
pub fn github(w: &Workload, audience: Option<&str>, now: i64) -> Map<String, Value> {
    let Platform::Github {
        repository,
        git_ref,
        environment,
        event,
    } = &w.platform
    else {
        return Map::new();
    };
    let owner = repository.split('/').next().unwrap_or_default();
    let aud = audience
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://github.com/{owner}"));
    let ref_type = if git_ref.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    let workflow = format!("{repository}/.github/workflows/certgen.yml@{git_ref}");
    let mut c = json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": subject(w),
        "aud": aud,
        "ref": git_ref,
        "ref_type": ref_type,
        "ref_protected": "false",
        "repository": repository,
        "repository_owner": owner,
        "repository_visibility": "private",
        "actor": "certgen",
        "workflow": "certgen",
        "workflow_ref": workflow,
        "job_workflow_ref": workflow,
        "event_name": event,
        "runner_environment": "github-hosted",
        "run_id": "1",
        "run_number": "1",
        "run_attempt": "1",
        "iss": w.issuer,
        "nbf": now,
        "iat": now,
        "exp": now + GITHUB_LIFETIME_SECS,
    });
    if let (Some(env), Some(map)) = (environment, c.as_object_mut()) {
        map.insert("environment".into(), json!(env));
    }
    match c {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A projected service-account token's claims, as the API server writes them (the AKS
/// sample: `aud` a list, `nbf` = `iat`, and the `kubernetes.io` object naming the pod).
pub fn kubernetes(w: &Workload, now: i64) -> Map<String, Value> {
    let Platform::Kubernetes {
        namespace,
        service_account,
        lifetime_secs,
    } = &w.platform
    else {
        return Map::new();
    };
    let lifetime = i64::try_from(*lifetime_secs).unwrap_or(i64::MAX);
    let uid = |what: &str| name_based_guid(&format!("workload {} {what}", w.name));
    let c = json!({
        "aud": [ENTRA_EXCHANGE_AUDIENCE],
        "exp": now.saturating_add(lifetime),
        "iat": now,
        "nbf": now,
        "iss": w.issuer,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": {
            "namespace": namespace,
            "pod": { "name": format!("{}-0", w.name), "uid": uid("pod") },
            "serviceaccount": { "name": service_account, "uid": uid("service account") },
        },
        "sub": subject(w),
    });
    match c {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(platform: Platform) -> Workload {
        Workload {
            name: "w".into(),
            app: "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8".into(),
            issuer: "https://issuer.example".into(),
            platform,
        }
    }

    #[test]
    fn subjects_as_the_platforms_write_them() {
        let github = |environment: Option<&str>, event: &str| {
            workload(Platform::Github {
                repository: "contoso/api".into(),
                git_ref: "refs/heads/main".into(),
                environment: environment.map(str::to_string),
                event: event.into(),
            })
        };
        let pod = workload(Platform::Kubernetes {
            namespace: "shop".into(),
            service_account: "orders".into(),
            lifetime_secs: 3600,
        });
        let subjects: Vec<String> = [
            github(None, "push"),
            github(Some("prod:eu"), "push"),
            github(None, "pull_request"),
            github(Some("prod"), "pull_request"),
            pod,
        ]
        .iter()
        .map(subject)
        .collect();
        assert_eq!(
            subjects,
            [
                "repo:contoso/api:ref:refs/heads/main",
                "repo:contoso/api:environment:prod%3Aeu",
                "repo:contoso/api:pull_request",
                "repo:contoso/api:environment:prod",
                "system:serviceaccount:shop:orders"
            ]
        );
    }
}
