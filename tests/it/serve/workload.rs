//! serve as a workload's token issuer (`[[workload]]`: a GitHub Actions runner's OIDC endpoint,
//! a Kubernetes service-account token file) and the federated path end to end: `certgen token`
//! with `--github-actions` and `--federated-token-file`, the rotated file, the refusals and
//! their hints, and unmodified clients driven by the environment only — Azure Identity for
//! Python and for JavaScript, `@actions/core`'s `getIDToken()`, Rust `azure_identity` and the
//! Azure CLI. The app of these tests holds no certificate and no secret, only federated
//! credentials, so every token it gets came through one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use crate::support::certgen_process;
use crate::support::require::{azure_cli, node_clients, wait_until};
use crate::support::serve::*;
use crate::support::token_stub::{field, Stub};
use serde_json::{json, Value};

/// The app the workloads sign in as: federated credentials only.
const WL_APP: &str = "5e1d0000-0000-4000-8000-0000000000a1";
/// An app with a secret and no federated credential (AADSTS70025).
const NO_FIC_APP: &str = "5e1d0000-0000-4000-8000-0000000000a2";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
const KUBERNETES: &str = "https://kubernetes.default.svc.cluster.local";
const EXCHANGE: &str = "api://AzureADTokenExchange";
const USER: &str = "ada@contoso.example";

/// The registrations: WL_APP trusts the `ci` job (main branch), the `pod` service account and
/// the `Production` environment; the other workloads each make one mistake.
fn config(dir: &Path, pod_lifetime: u64) -> PathBuf {
    let text = format!(
        r#"
[[tenant]]
id = "{TENANT}"

[[app]]
client_id = "{WL_APP}"
display_name = "orders-deployer"
[app.roles]
"https://graph.microsoft.com" = ["User.Read.All"]
[[app.federated]]
name = "github-production"
issuer = "{GITHUB}"
subject = "repo:contoso/api:environment:Production"
[[app.federated]]
name = "github-main"
issuer = "{GITHUB}"
subject = "repo:contoso/api:ref:refs/heads/main"
[[app.federated]]
name = "orders-pod"
issuer = "{KUBERNETES}"
subject = "system:serviceaccount:shop:orders"

[[app]]
client_id = "{NO_FIC_APP}"
secret_env = ["{SECRET_VAR}"]

[[user]]
user_principal_name = "{USER}"

[[workload]]
name = "ci"
kind = "github"
app = "{WL_APP}"
repository = "contoso/api"
ref = "refs/heads/main"

[[workload]]
name = "dev-branch"
kind = "github"
app = "{WL_APP}"
repository = "contoso/api"
ref = "refs/heads/dev"

[[workload]]
name = "lower-case-env"
kind = "github"
app = "{WL_APP}"
repository = "contoso/api"
ref = "refs/heads/main"
environment = "production"

[[workload]]
name = "pull-request"
kind = "github"
app = "{WL_APP}"
repository = "contoso/api"
ref = "refs/pull/7/merge"
event = "pull_request"

[[workload]]
name = "no-credential"
kind = "github"
app = "{NO_FIC_APP}"
repository = "contoso/api"
ref = "refs/heads/main"

[[workload]]
name = "pod"
kind = "kubernetes"
app = "{WL_APP}"
namespace = "shop"
service_account = "orders"
token_lifetime = {pod_lifetime}

[[workload]]
name = "other-cluster"
kind = "kubernetes"
app = "{WL_APP}"
namespace = "shop"
service_account = "orders"
issuer = "https://oidc.prod-aks.example/{TENANT}/"
"#
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("workloads.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A serve with these registrations, in a state folder of its own (the fixture's TLS
/// certificate and signing key copied in), plus `extra` flags.
fn start(pod_lifetime: u64, extra: &[&str]) -> Server {
    let state = fresh_state(&fixture().state);
    let config = config(&state.with_extension("config"), pod_lifetime);
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_in(&state, &args)
}

/// The ready line's variables for workload `name`.
fn workload_env(s: &Server, name: &str) -> Vec<(String, String)> {
    s.ready["workloads"][name]["env"]
        .as_object()
        .unwrap_or_else(|| panic!("no workload {name} in the ready line: {}", s.ready))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn env_value(s: &Server, name: &str, var: &str) -> String {
    s.ready["workloads"][name]["env"][var]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: no {var}: {}", s.ready))
        .to_string()
}

/// `certgen ARGS` against `s` directly (its CA by --ca-file), with `env` added.
fn certgen(s: &Server, args: &[&str], env: &[(String, String)]) -> Output {
    let mut cmd = certgen_process();
    cmd.args(args)
        .args(["--ca-file", &s.field("ca_file")])
        .args(["--authority-host", &s.base(), "--tenant", TENANT])
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `certgen token … --output json`: the token's claims, or a panic with what certgen said.
fn token_claims(s: &Server, args: &[&str], env: &[(String, String)]) -> Value {
    let mut all = vec!["token", "--no-cache", "--output", "json"];
    all.extend_from_slice(args);
    let out = certgen(s, &all, env);
    assert!(out.status.success(), "certgen {all:?}: {}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["claims"].clone()
}

/// A token of WL_APP, which holds no certificate and no secret: only a federated credential
/// could have got it. The claims as Graph's v1 tokens carry them (`appidacr` 2: an assertion).
fn assert_federated_graph_token(claims: &Value, what: &str) {
    assert_eq!(claims["appid"], WL_APP, "{what}: {claims}");
    assert_eq!(claims["appidacr"], "2", "{what}: {claims}");
    assert_eq!(
        claims["roles"],
        json!(["User.Read.All"]),
        "{what}: {claims}"
    );
    assert_eq!(claims["tid"], TENANT, "{what}: {claims}");
}

/// Graph `/users` with `token`, straight to serve: the listed user principal names.
async fn graph_users(s: &Server, token: &str) -> Vec<String> {
    let resp = s
        .client()
        .get(format!("{}/v1.0/users", s.base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_string())
        .collect()
}

fn decode_claims(jwt: &str) -> Value {
    super::azure_cli::claims_of(jwt)
}

async fn runner_get(s: &Server, url: &str, bearer: Option<&str>) -> (u16, Value, Option<String>) {
    let mut req = s.client().get(url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or(Value::Null), cache)
}

/// The runner's endpoint as `@actions/core` calls it: the bearer checked, the audience asked
/// for (default: the owner's URL), GitHub's claims signed by the issuer's key, 5 minutes.
#[tokio::test]
async fn github_runner_endpoint_signs_githubs_claims_for_the_job() {
    let s = start(3600, &[]);
    let url = env_value(&s, "ci", "ACTIONS_ID_TOKEN_REQUEST_URL");
    let bearer = env_value(&s, "ci", "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    assert!(url.contains('?'), "the clients append &audience=: {url}");

    let (status, body, _) = runner_get(&s, &url, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body, _) = runner_get(&s, &url, Some("not-the-job-token")).await;
    assert_eq!(status, 403, "{body}");
    // Another job's request token is not this one's.
    let other = env_value(&s, "dev-branch", "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    assert_eq!(runner_get(&s, &url, Some(&other)).await.0, 403);

    let jwks = s.get_json(&format!("{}/workloads/ci/jwks", s.base())).await;
    let discovery = s
        .get_json(&format!(
            "{}/workloads/ci/.well-known/openid-configuration",
            s.base()
        ))
        .await;
    assert_eq!(discovery["issuer"], GITHUB);

    let (status, body, cache) =
        runner_get(&s, &format!("{url}&audience={EXCHANGE}"), Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    let jwt = body["value"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let c = verify_with_keys(jwt, &jwks, Some(EXCHANGE), Some(GITHUB));
    assert_eq!(c["sub"], "repo:contoso/api:ref:refs/heads/main");
    assert_eq!(c["repository"], "contoso/api");
    assert_eq!(c["repository_owner"], "contoso");
    assert_eq!(c["ref"], "refs/heads/main");
    assert_eq!(c["ref_type"], "branch");
    assert_eq!(
        c["job_workflow_ref"],
        "contoso/api/.github/workflows/certgen.yml@refs/heads/main"
    );
    assert_eq!(c["event_name"], "push");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // No audience asked: GitHub's default, the owner's URL.
    let (_, body, _) = runner_get(&s, &url, Some(&bearer)).await;
    let c = verify_with_keys(
        body["value"].as_str().unwrap(),
        &jwks,
        Some("https://github.com/contoso"),
        Some(GITHUB),
    );
    assert_eq!(c["aud"], "https://github.com/contoso");

    // An environment job's subject names the environment.
    let env_url = env_value(&s, "lower-case-env", "ACTIONS_ID_TOKEN_REQUEST_URL");
    let env_bearer = env_value(&s, "lower-case-env", "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let (_, body, _) = runner_get(&s, &env_url, Some(&env_bearer)).await;
    let c = decode_claims(body["value"].as_str().unwrap());
    assert_eq!(c["sub"], "repo:contoso/api:environment:production");
    assert_eq!(c["environment"], "production");

    // A pull request's subject names the event, not the merge ref.
    let pr_url = env_value(&s, "pull-request", "ACTIONS_ID_TOKEN_REQUEST_URL");
    let pr_bearer = env_value(&s, "pull-request", "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let (_, body, _) = runner_get(&s, &pr_url, Some(&pr_bearer)).await;
    let c = decode_claims(body["value"].as_str().unwrap());
    assert_eq!(c["sub"], "repo:contoso/api:pull_request");
    assert_eq!(c["event_name"], "pull_request");
    assert_eq!(c["ref"], "refs/pull/7/merge");
}

/// `certgen token --github-actions` in a job (the runner's two variables only) gets a token
/// through the federated credential, and `certgen call` lists Graph's users with it.
#[tokio::test]
async fn certgen_github_actions_gets_a_federated_token_and_calls_graph() {
    let s = start(3600, &[]);
    let job = workload_env(&s, "ci");
    let claims = token_claims(&s, &["--client-id", WL_APP, "--github-actions"], &job);
    assert_federated_graph_token(&claims, "--github-actions");
    // With no other credential, the two variables alone are enough (as azure/login reads them).
    let claims = token_claims(&s, &["--client-id", WL_APP], &job);
    assert_federated_graph_token(&claims, "the runner's variables");

    let graph = s.field("graph");
    let out = certgen(
        &s,
        &[
            "call",
            "--no-cache",
            &format!("{graph}/users"),
            "--client-id",
            WL_APP,
        ],
        &job,
    );
    assert!(out.status.success(), "certgen call: {}", stderr(&out));
    let users: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(users["value"][0]["userPrincipalName"], USER, "{users}");
}

/// The Kubernetes writer: the webhook's four variables, a 0600 token file with the service
/// account's claims, rewritten before 80 % of its life; `certgen token --no-cache` presents
/// the file's current token on each request (the stub records it) and serve accepts both.
#[test]
fn kubernetes_token_file_is_rewritten_and_each_request_presents_the_current_one() {
    let s = start(5, &[]);
    // A runtime for the key set only: the stub below runs its own, which must not be dropped
    // inside another.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = workload_env(&s, "pod");
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AZURE_AUTHORITY_HOST",
            "AZURE_CLIENT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_TENANT_ID"
        ]
    );
    assert_eq!(
        env_value(&s, "pod", "AZURE_AUTHORITY_HOST"),
        format!("{}/", s.base())
    );
    assert_eq!(env_value(&s, "pod", "AZURE_CLIENT_ID"), WL_APP);
    assert_eq!(env_value(&s, "pod", "AZURE_TENANT_ID"), TENANT);
    let file = PathBuf::from(env_value(&s, "pod", "AZURE_FEDERATED_TOKEN_FILE"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let first = std::fs::read_to_string(&file).unwrap();
    let jwks = rt.block_on(s.get_json(&format!("{}/workloads/pod/jwks", s.base())));
    let c = verify_with_keys(&first, &jwks, Some(EXCHANGE), Some(KUBERNETES));
    assert_eq!(c["sub"], "system:serviceaccount:shop:orders");
    assert_eq!(c["aud"], json!([EXCHANGE]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 5);
    assert_eq!(c["kubernetes.io"]["namespace"], "shop");
    assert_eq!(c["kubernetes.io"]["serviceaccount"]["name"], "orders");

    // The environment alone (the webhook's variables): a token through the federated
    // credential, then what the stub sees presented.
    let claims = token_claims(&s, &[], &env);
    assert_federated_graph_token(&claims, "AZURE_FEDERATED_TOKEN_FILE");
    let stub = Stub::start(vec![]);
    let presented = |stub: &Stub| {
        let out = certgen_process()
            .args(["token", "--no-cache", "--token-endpoint", &stub.url()])
            .args(["--client-id", WL_APP, "--federated-token-file"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let requests = stub.requests();
        let (_, form) = requests.last().unwrap();
        assert_eq!(
            field(form, "client_assertion_type"),
            Some(ASSERTION_TYPE),
            "{form:?}"
        );
        field(form, "client_assertion").unwrap().to_string()
    };
    let before = std::fs::read_to_string(&file).unwrap();
    assert_eq!(presented(&stub), before.trim());

    // Rewritten at 80 % of 5 s; the next request presents the new token.
    wait_until(
        Duration::from_secs(20),
        "the token file is rewritten",
        || std::fs::read_to_string(&file).is_ok_and(|t| t != before),
    );
    let after = std::fs::read_to_string(&file).unwrap();
    assert_ne!(presented(&stub), before.trim());
    let c = verify_with_keys(&after, &jwks, Some(EXCHANGE), Some(KUBERNETES));
    assert_ne!(c["jti"], decode_claims(&before)["jti"]);
    let claims = token_claims(&s, &[], &env);
    assert_federated_graph_token(&claims, "the rewritten file");
}

/// Each mistake a client can make, as Entra refuses it, with the hint naming what to compare
/// and the presented token's issuer, subject and audience.
#[tokio::test]
async fn federation_refusals_are_explained_with_the_presented_claims() {
    let s = start(3600, &[]);
    let refused = |workload: &str, client: &str, extra: &[&str]| {
        let mut args = vec!["token", "--no-cache", "--client-id", client];
        args.extend_from_slice(extra);
        let out = certgen(&s, &args, &workload_env(&s, workload));
        assert_eq!(out.status.code(), Some(3), "{workload}: {}", stderr(&out));
        stderr(&out)
    };
    let e = refused("dev-branch", WL_APP, &[]);
    assert!(e.contains("AADSTS700213"), "{e}");
    assert!(
        e.contains(
            "hint: the issuer matched but no subject is 'repo:contoso/api:ref:refs/heads/dev'"
        ),
        "{e}"
    );
    assert!(e.contains(&format!("iss '{GITHUB}'")), "{e}");
    assert!(e.contains(&format!("aud '{EXCHANGE}'")), "{e}");

    let e = refused("lower-case-env", WL_APP, &[]);
    assert!(e.contains("AADSTS7002138"), "{e}");
    assert!(e.contains("case-sensitively"), "{e}");

    let e = refused("ci", WL_APP, &["--federated-audience", "api://Contoso"]);
    assert!(e.contains("AADSTS700212"), "{e}");
    assert!(e.contains("aud 'api://Contoso'"), "{e}");
    assert!(e.contains(&format!("the default is {EXCHANGE}")), "{e}");

    let e = refused("other-cluster", WL_APP, &[]);
    assert!(e.contains("AADSTS700211"), "{e}");
    assert!(e.contains("trailing '/'"), "{e}");
    assert!(
        e.contains(&format!("iss 'https://oidc.prod-aks.example/{TENANT}/'")),
        "{e}"
    );

    let e = refused("no-credential", NO_FIC_APP, &[]);
    assert!(e.contains("AADSTS70025"), "{e}");
    assert!(e.contains("has no federated credential at all"), "{e}");
}

/// A token past its `exp` in the file: one error naming the file and the time, nothing sent.
#[test]
fn an_expired_federated_token_file_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    let exp = 1_700_000_000;
    let jwt = format!(
        "{}.c2ln",
        crate::support::signing_input(
            &json!({"alg": "RS256", "typ": "JWT"}),
            &json!({"iss": KUBERNETES, "sub": "system:serviceaccount:shop:orders", "exp": exp}),
        )
    );
    std::fs::write(&file, format!("{jwt}\n")).unwrap();
    let stub = Stub::start(vec![]);
    for by_env in [false, true] {
        let mut cmd = certgen_process();
        cmd.args(["token", "--no-cache", "--token-endpoint", &stub.url()])
            .args(["--client-id", WL_APP]);
        if by_env {
            cmd.env("AZURE_FEDERATED_TOKEN_FILE", &file);
        } else {
            cmd.arg("--federated-token-file").arg(&file);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let e = stderr(&out);
        let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{e}");
        assert!(errors[0].contains(&file.display().to_string()), "{e}");
        assert!(errors[0].contains("expired at 2023-11-14T22:13:20Z"), "{e}");
    }
    assert_eq!(stub.count(), 0, "nothing may be sent");
    // An empty file, and a missing one, are named too.
    std::fs::write(&file, "\n").unwrap();
    let out = certgen_process()
        .args([
            "token",
            "--token-endpoint",
            &stub.url(),
            "--client-id",
            WL_APP,
        ])
        .arg("--federated-token-file")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
    assert_eq!(stub.count(), 0);
}

/// `--github-actions` outside a job says which variables are missing (usage, exit 2).
#[test]
fn github_actions_outside_a_job_names_the_missing_variables() {
    let out = certgen_process()
        .args([
            "token",
            "--tenant",
            TENANT,
            "--client-id",
            WL_APP,
            "--github-actions",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        "{e}"
    );
}

/// A serve with the proxy: the Kubernetes variables name `https://login.microsoftonline.com/`,
/// and clients reach serve under Microsoft's names through HTTPS_PROXY.
fn proxied_server() -> Server {
    start(3600, &["--proxy", "127.0.0.1:0"])
}

/// The environment of a pod on a proxied serve: the webhook's four variables and the proxy's.
fn pod_env(cmd: &mut Command, s: &Server) {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_USERNAME",
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in s.ready["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    for (k, v) in workload_env(s, "pod") {
        cmd.env(k, v);
    }
}

fn json_output(what: &str, out: Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{what} printed no JSON: {stdout}\n{}", stderr(&out)))
}

/// Azure Identity for Python, unmodified: `WorkloadIdentityCredential()` and
/// `DefaultAzureCredential()` from the environment, then Graph `/users` through the proxy.
#[tokio::test]
async fn azure_identity_for_python_workload_identity_from_the_environment() {
    let Some(python) = python() else { return };
    let s = proxied_server();
    assert_eq!(
        env_value(&s, "pod", "AZURE_AUTHORITY_HOST"),
        "https://login.microsoftonline.com/"
    );
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/workload_identity.py"
    ));
    pod_env(&mut cmd, &s);
    let result = json_output("Azure Identity for Python", cmd.output().unwrap());
    for name in ["workload_identity", "default"] {
        let token = result[name]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {result}"));
        assert_federated_graph_token(&decode_claims(token), name);
        assert_eq!(result[name]["users"], 1, "{name}: {result}");
    }
}

/// `@azure/identity`, unmodified: `WorkloadIdentityCredential` and `DefaultAzureCredential`
/// from the environment; each token then lists Graph's users.
#[tokio::test]
async fn azure_identity_for_javascript_workload_identity_from_the_environment() {
    let Some(dir) = node_clients() else { return };
    let s = proxied_server();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("workload_identity.mjs"));
    pod_env(&mut cmd, &s);
    let result = json_output("@azure/identity", cmd.output().unwrap());
    for name in ["workload_identity", "default"] {
        let token = result[name]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {result}"));
        assert_federated_graph_token(&decode_claims(token), name);
        assert_eq!(graph_users(&s, token).await, [USER], "{name}");
    }
}

/// `@actions/core`'s `getIDToken()`, unmodified, with the runner's variables from the ready
/// line: its token, in a file, is `certgen token`'s federated credential.
#[tokio::test]
async fn actions_core_get_id_token_feeds_certgen() {
    let Some(dir) = node_clients() else { return };
    if !dir.join("node_modules/@actions/core").is_dir() {
        crate::support::require::require::<()>(Err(format!(
            "@actions/core not installed: run `npm ci` in {}",
            dir.display()
        )));
        return;
    }
    let s = start(3600, &[]);
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("actions_oidc.mjs"))
        .env("AUDIENCE", EXCHANGE)
        .env("NODE_EXTRA_CA_CERTS", s.field("ca_file"))
        .envs(workload_env(&s, "ci"))
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy");
    // @actions/core also writes workflow commands (::debug::, ::add-mask::) on stdout: the
    // script's answer is the last line.
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let result: Value = serde_json::from_str(&last)
        .unwrap_or_else(|_| panic!("@actions/core: {stdout}\n{}", stderr(&out)));
    // It masks the token in the job's log, as a real step does.
    assert!(stdout.contains("::add-mask::"), "{stdout}");
    let jwt = result["value"]
        .as_str()
        .unwrap_or_else(|| panic!("getIDToken: {result}"));
    let c = decode_claims(jwt);
    assert_eq!(c["aud"], EXCHANGE);
    assert_eq!(c["sub"], "repo:contoso/api:ref:refs/heads/main");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("github-token");
    std::fs::write(&file, jwt).unwrap();
    let claims = token_claims(
        &s,
        &[
            "--client-id",
            WL_APP,
            "--federated-token-file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_federated_graph_token(&claims, "getIDToken's token");
}

/// Rust `azure_identity`'s `WorkloadIdentityCredential` with the pod's values (its options
/// name the authority host and a transport trusting serve's certificate, as an app on a
/// private cloud sets them).
#[tokio::test]
async fn rust_azure_identity_workload_identity_credential() {
    use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
    use azure_core::credentials::TokenCredential;
    use azure_core::http::{ClientOptions, Transport};
    use azure_identity::{
        ClientAssertionCredentialOptions, WorkloadIdentityCredential,
        WorkloadIdentityCredentialOptions,
    };
    let s = start(3600, &[]);
    let pem = std::fs::read(s.field("ca_file")).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .no_proxy()
        .build()
        .unwrap();
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = env_value(&s, "pod", "AZURE_AUTHORITY_HOST");
    let client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
        ..Default::default()
    };
    let options = WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions { client_options },
        client_id: Some(env_value(&s, "pod", "AZURE_CLIENT_ID")),
        tenant_id: Some(env_value(&s, "pod", "AZURE_TENANT_ID")),
        token_file_path: Some(env_value(&s, "pod", "AZURE_FEDERATED_TOKEN_FILE").into()),
    };
    let credential = WorkloadIdentityCredential::new(Some(options)).unwrap();
    let token = credential
        .get_token(&["https://graph.microsoft.com/.default"], None)
        .await
        .unwrap_or_else(|e| panic!("azure_identity: {e}"));
    let token = token.token.secret().to_string();
    assert_federated_graph_token(&decode_claims(&token), "azure_identity");
    assert_eq!(graph_users(&s, &token).await, [USER]);
}

/// `az login --service-principal --federated-token`, the Azure CLI unmodified behind the proxy,
/// with the token the runner gives; then `az rest` lists Graph's users.
#[tokio::test]
async fn azure_cli_logs_in_with_a_federated_token() {
    let Some(az_bin) = azure_cli() else { return };
    let s = proxied_server();
    let url = env_value(&s, "ci", "ACTIONS_ID_TOKEN_REQUEST_URL");
    let bearer = env_value(&s, "ci", "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let (status, body, _) =
        runner_get(&s, &format!("{url}&audience={EXCHANGE}"), Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    let jwt = body["value"].as_str().unwrap().to_string();
    let az = super::azure_cli::Az::new(&az_bin, &s);
    let login = az.json(&[
        "login",
        "--service-principal",
        "-u",
        WL_APP,
        "--tenant",
        TENANT,
        "--federated-token",
        &jwt,
        "--allow-no-subscriptions",
    ]);
    assert_eq!(login[0]["tenantId"], TENANT, "{login}");
    let token = az.json(&[
        "account",
        "get-access-token",
        "--resource",
        "https://graph.microsoft.com",
    ]);
    let access = token["accessToken"].as_str().unwrap();
    assert_federated_graph_token(&decode_claims(access), "az login --federated-token");
    let users = az.json(&[
        "rest",
        "--method",
        "get",
        "--url",
        "https://graph.microsoft.com/v1.0/users",
    ]);
    assert_eq!(users["value"][0]["userPrincipalName"], USER, "{users}");
}

/// A mistake in a `[[workload]]` stops serve with one `error:` naming the workload and field.
#[test]
fn a_bad_workload_entry_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    for (entry, want) in [
        (
            "name = \"ci\"\nkind = \"github\"\nrepository = \"contoso\"\nref = \"refs/heads/main\"",
            "workload 'ci' repository 'contoso' is not OWNER/REPO",
        ),
        (
            "name = \"pod\"\nkind = \"kubernetes\"\nnamespace = \"shop\"\nservice_account = \"orders\"\ntoken_lifetime = 0",
            "workload 'pod' token_lifetime 0 is outside 5 to 86400 seconds",
        ),
        (
            "name = \"pod\"\nkind = \"kubernetes\"\nnamespace = \"shop\"\nservice_acount = \"orders\"",
            "unknown field `service_acount`",
        ),
    ] {
        let config = dir.path().join("bad.toml");
        std::fs::write(
            &config,
            format!(
                "[[app]]\nclient_id = \"{NO_FIC_APP}\"\nsecret_env = [\"{SECRET_VAR}\"]\n\
                 [[workload]]\napp = \"{NO_FIC_APP}\"\n{entry}\n"
            ),
        )
        .unwrap();
        let out = certgen_process()
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(&config)
            .env(SECRET_VAR, SECRET)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let e = stderr(&out);
        let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{e}");
        assert!(errors[0].contains(want), "{e}");
        assert!(out.stdout.is_empty(), "no ready line");
    }
}
