//! `certgen serve --proxy`: unmodified clients, whose authority is the real
//! `https://login.microsoftonline.com/{tenant}`, get tokens from serve with only the
//! environment changed — through the CONNECT proxy (`HTTPS_PROXY` + the local CA) or, for
//! clients that ignore HTTPS_PROXY, through the SNI route (a hosts entry in a network
//! namespace). Judged by the openssl CLI, MSAL and Azure Identity for Python,
//! `@azure/identity` and MSAL Node, and jsonwebtoken; other hosts are refused with nothing
//! opened toward them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::require::{node_clients, program};
use crate::support::serve::*;
use jsonwebtoken::Algorithm;
use serde_json::Value;

const V2_ISSUER_HOST: &str = "https://login.microsoftonline.com";
const V1_ISSUER_HOST: &str = "https://sts.windows.net";

/// A state folder of the proxy tests' own: its first start makes the local CA, later starts
/// (in parallel) only read it.
fn proxy_state() -> &'static Path {
    static STATE: OnceLock<PathBuf> = OnceLock::new();
    STATE.get_or_init(|| {
        let state = fixture().dir.join("proxy-state");
        drop(start(&state, &[]));
        state
    })
}

fn start(state: &Path, extra: &[&str]) -> Server {
    let f = fixture();
    let mut args = vec![
        "--config",
        f.config.to_str().unwrap(),
        "--proxy",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start_in(state, &args)
}

fn proxy_server() -> Server {
    start(proxy_state(), &[])
}

/// A client that goes through the proxy and trusts only the local CA, as `HTTPS_PROXY` +
/// `SSL_CERT_FILE` make any client do.
pub(super) fn proxied(s: &Server) -> reqwest::Client {
    let pem = std::fs::read(s.field("proxy_ca_file")).unwrap();
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::https(s.field("proxy")).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let resp = client.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl CLI must be installed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn ready_line_banner_and_local_ca() {
    let s = proxy_server();
    let proxy = s.field("proxy");
    let ca = s.field("proxy_ca_file");
    assert!(proxy.starts_with("http://127.0.0.1:"), "{proxy}");
    assert_ne!(
        proxy.rsplit(':').next(),
        s.field("listen").rsplit(':').next()
    );
    assert_eq!(Path::new(&ca), proxy_state().join("proxy-ca.pem"));
    assert_eq!(s.ready["env"]["HTTPS_PROXY"], proxy.as_str());
    for var in ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"] {
        assert_eq!(s.ready["env"][var], ca.as_str(), "{var}");
    }
    // The ready line without --proxy is what it always was.
    let plain = Server::start();
    for field in ["proxy", "proxy_ca_file", "env"] {
        assert!(plain.ready.get(field).is_none(), "{field}: {}", plain.ready);
    }
    let banner = s.log_text();
    assert!(
        banner.contains(&format!("export HTTPS_PROXY={proxy}\n")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("export NODE_EXTRA_CA_CERTS={ca}\n")),
        "{banner}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = proxy_state().join("proxy-ca-key.pem");
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A CA, constrained to Microsoft's names, as openssl reads it.
    let text = openssl(&["x509", "-in", &ca, "-noout", "-text"]);
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Permitted:"), "{text}");
    assert!(text.contains("DNS:login.microsoftonline.com"), "{text}");

    // Through the proxy, and by SNI on the main listener, openssl sees a leaf for the name it
    // asked, which verifies against the local CA.
    let proxy_addr = proxy.trim_start_matches("http://");
    for host in ["login.microsoftonline.com", "graph.microsoft.com"] {
        let out = openssl(&[
            "s_client",
            "-proxy",
            proxy_addr,
            "-connect",
            &format!("{host}:443"),
            "-servername",
            host,
            "-CAfile",
            &ca,
            "-verify_hostname",
            host,
            "-verify_return_error",
            "-brief",
        ]);
        assert!(out.contains("Verification: OK"), "{host} via proxy: {out}");
    }
    let listen = s.field("listen");
    let out = openssl(&[
        "s_client",
        "-connect",
        &listen,
        "-servername",
        "login.microsoftonline.com",
        "-CAfile",
        &ca,
        "-verify_hostname",
        "login.microsoftonline.com",
        "-verify_return_error",
        "-brief",
    ]);
    assert!(out.contains("Verification: OK"), "SNI route: {out}");
    // Any other name on the main listener still gets serve's own localhost certificate.
    let out = openssl(&[
        "s_client",
        "-connect",
        &listen,
        "-servername",
        "localhost",
        "-CAfile",
        &s.field("ca_file"),
        "-verify_hostname",
        "localhost",
        "-verify_return_error",
        "-brief",
    ]);
    assert!(out.contains("Verification: OK"), "own name: {out}");
}

/// The status line the proxy answers to a raw request.
fn proxy_answer(proxy: &str, request: &str) -> String {
    let mut conn = TcpStream::connect(proxy.trim_start_matches("http://")).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut head = String::new();
    BufReader::new(&mut conn).read_line(&mut head).unwrap();
    head.trim_end().to_string()
}

#[tokio::test]
async fn other_hosts_are_refused_and_nothing_is_opened() {
    let s = proxy_server();
    let proxy = s.field("proxy");
    // A host that must see no connection at all.
    let bystander = TcpListener::bind("127.0.0.1:0").unwrap();
    bystander.set_nonblocking(true).unwrap();
    let target = bystander.local_addr().unwrap().to_string();

    for request in [
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_string(),
        "CONNECT login.microsoftonline.com:80 HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        format!("GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        "GET http://login.microsoftonline.com/ HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n"
            .to_string(),
    ] {
        let status = proxy_answer(&proxy, &request);
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{request}");
    }
    // A real client through the proxy fails too.
    let err = proxied(&s)
        .get(format!("https://{target}/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    // The proxy refuses before it would connect: once both refusals are logged, a connection
    // to the bystander would already have been made.
    crate::support::wait_until(
        Duration::from_secs(10),
        "the CONNECT refusals logged",
        || {
            let log = s.log_text();
            log.contains(&format!("CONNECT {target} 403"))
                && log.contains("CONNECT example.com:443 403")
        },
    );
    match bystander.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the proxy opened a connection to {target}: {other:?}"),
    }
    let log = s.log_text();
    assert!(log.contains(&format!("CONNECT {target} 403")), "{log}");
    assert!(log.contains("CONNECT example.com:443 403"), "{log}");
}

#[tokio::test]
async fn reached_as_entra_it_names_itself_as_entra() {
    let s = proxy_server();
    let c = proxied(&s);
    let login = V2_ISSUER_HOST;
    let (st, v2) = get(
        &c,
        &format!("{login}/{TENANT}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(st, 200, "{v2}");
    assert_eq!(v2["issuer"], format!("{login}/{TENANT}/v2.0"));
    assert_eq!(
        v2["token_endpoint"],
        format!("{login}/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        v2["jwks_uri"],
        format!("{login}/{TENANT}/discovery/v2.0/keys")
    );
    assert_eq!(v2["msgraph_host"], "graph.microsoft.com");
    let (_, v1) = get(
        &c,
        &format!("{login}/{TENANT}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(v1["issuer"], format!("{V1_ISSUER_HOST}/{TENANT}/"));
    // The original example's API reads the v1 document at its issuer, sts.windows.net.
    let (st, sts) = get(
        &c,
        &format!("{V1_ISSUER_HOST}/{TENANT}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(st, 200, "{sts}");
    assert_eq!(sts["issuer"], format!("{V1_ISSUER_HOST}/{TENANT}/"));
    let (_, v1_keys) = get(&c, sts["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(
        v1_keys["keys"][0]["issuer"],
        format!("{V1_ISSUER_HOST}/{TENANT}/")
    );
    // The multi-tenant documents carry Entra's template.
    for segment in ["common", "organizations"] {
        let (st, doc) = get(
            &c,
            &format!("{login}/{segment}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(st, 200, "{segment}: {doc}");
        assert_eq!(doc["issuer"], format!("{login}/{{tenantid}}/v2.0"));
        assert_eq!(
            doc["token_endpoint"],
            format!("{login}/{segment}/oauth2/v2.0/token")
        );
    }
    let (_, doc) = get(
        &c,
        &format!("{login}/common/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(doc["issuer"], format!("{V1_ISSUER_HOST}/{{tenantid}}/"));
    // An alias keeps its own endpoints, with the canonical issuer.
    let (_, alias) = get(
        &c,
        &format!("https://login.windows.net/{TENANT}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(alias["issuer"], format!("{login}/{TENANT}/v2.0"));
    assert_eq!(
        alias["token_endpoint"],
        format!("https://login.windows.net/{TENANT}/oauth2/v2.0/token")
    );
    // MSAL Python's `{authority}//v2.0/…` when the authority ends in `/`.
    let (st, doc) = get(
        &c,
        &format!("{login}/{TENANT}//v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(
        (st, &doc["issuer"]),
        (200, &Value::from(format!("{login}/{TENANT}/v2.0")))
    );
    let (_, keys) = get(&c, &format!("{login}/{TENANT}/discovery/v2.0/keys")).await;
    assert_eq!(keys["keys"][0]["issuer"], format!("{login}/{TENANT}/v2.0"));

    // Instance discovery, as MSAL Python (1.0) and msal-common (1.1) ask it.
    for version in ["1.0", "1.1"] {
        let url = format!(
            "{login}/common/discovery/instance?api-version={version}&authorization_endpoint={login}/{TENANT}/oauth2/v2.0/authorize"
        );
        let resp = c.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["tenant_discovery_endpoint"],
            format!("{login}/{TENANT}/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(
            body["metadata"][0]["preferred_network"],
            "login.microsoftonline.com"
        );
        assert_eq!(body["metadata"][0]["preferred_cache"], "login.windows.net");
        let aliases = body["metadata"][0]["aliases"].as_array().unwrap();
        assert_eq!(aliases.len(), 4, "{body}");
    }
    let (st, refused) = get(
        &c,
        &format!("{login}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.example.com/t/oauth2/v2.0/authorize"),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(refused["error"], "invalid_instance");
    assert_eq!(refused["error_codes"][0], 50049);

    // Reached directly, nothing changes but the multi-tenant documents' template.
    let direct = s
        .get_json(&format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            s.base()
        ))
        .await;
    assert_eq!(direct["issuer"], format!("{}/{TENANT}/v2.0", s.base()));
    assert_eq!(direct["msgraph_host"], s.field("listen"));
    let common = s
        .get_json(&format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            s.base()
        ))
        .await;
    assert_eq!(common["issuer"], format!("{}/{{tenantid}}/v2.0", s.base()));
    assert!(s.log_text().contains(&format!(
        "GET {login}/{TENANT}/v2.0/.well-known/openid-configuration 200"
    )));
}

/// Checks a token with the JWKS fetched through the proxy, against the real issuer string.
async fn assert_entra_token(s: &Server, token: &str, audience: &str, issuer: &str) -> Value {
    let (_, jwks) = get(
        &proxied(s),
        &format!("{V2_ISSUER_HOST}/{TENANT}/discovery/v2.0/keys"),
    )
    .await;
    verify_with_keys(token, &jwks, Some(audience), Some(issuer))
}

/// `certgen token` and `certgen verify` with HTTPS_PROXY and the CA by `--ca-file`: the
/// default authority host, the real issuer.
#[tokio::test]
async fn certgen_token_and_verify_honour_https_proxy() {
    let s = proxy_server();
    let ca = s.field("proxy_ca_file");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_certgen"))
            .args(args)
            .env("HTTPS_PROXY", s.field("proxy"))
            .env("AZURE_CLIENT_SECRET", SECRET)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("AZURE_AUTHORITY_HOST")
            .output()
            .unwrap()
    };
    let out = run(&[
        "token",
        "--tenant",
        TENANT,
        "--client-id",
        APP,
        "--scope",
        "api://orders/.default",
        "--ca-file",
        &ca,
        "--no-cache",
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let issuer = format!("{V2_ISSUER_HOST}/{TENANT}/v2.0");
    assert_eq!(answer["claims"]["iss"], issuer.as_str());
    assert_entra_token(&s, token, ORDERS_API, &issuer).await;

    let out = run(&[
        "verify",
        token,
        "--authority",
        &format!("{V2_ISSUER_HOST}/{TENANT}"),
        "--audience",
        ORDERS_API,
        "--ca-file",
        &ca,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&issuer));
    assert!(s.log_text().contains(&format!(
        "POST {V2_ISSUER_HOST}/{TENANT}/oauth2/v2.0/token 200 client={APP}"
    )));
}

/// The environment of an unmodified client: the ready line's `env`, and nothing that would
/// steer it otherwise.
fn client_env(cmd: &mut Command, s: &Server) {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "CURL_CA_BUNDLE",
        "AZURE_AUTHORITY_HOST",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in s.ready["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
}

fn json_output(what: &str, out: std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{what} printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// MSAL for Python and Azure Identity for Python, defaults only, authority
/// `https://login.microsoftonline.com/{tenant}` with and without a trailing `/`.
#[tokio::test]
async fn msal_python_and_azure_identity_run_unchanged_through_the_proxy() {
    let Some(python) = python() else { return };
    let s = proxy_server();
    let f = fixture();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/unmodified_client.py"
    );
    // Graph (v1 tokens, sts.windows.net) as the daemon sample asks, and a v2 API.
    for (suffix, scope, audience, issuer) in [
        (
            "",
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com",
            format!("{V1_ISSUER_HOST}/{TENANT}/"),
        ),
        (
            "/",
            "api://orders/.default",
            ORDERS_API,
            format!("{V2_ISSUER_HOST}/{TENANT}/v2.0"),
        ),
    ] {
        let mut cmd = Command::new(&python);
        cmd.arg(script)
            .env("TENANT", TENANT)
            .env("CLIENT_ID", APP)
            .env("SCOPE", scope)
            .env("CERT_PEM", &f.main.cert_pem)
            .env("KEY_PEM", &f.main.key_pem)
            .env("THUMBPRINT", f.main.thumbprint_hex())
            .env("CLIENT_SECRET", SECRET)
            .env("AUTHORITY_SUFFIX", suffix);
        client_env(&mut cmd, &s);
        let result = json_output("the Python client", cmd.output().unwrap());
        for (name, acr) in [
            ("msal_certificate", "2"),
            ("msal_secret", "1"),
            ("azure_identity_certificate", "2"),
            ("azure_identity_secret", "1"),
        ] {
            let token = result[name]["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} (authority suffix {suffix:?}): {result}"));
            let claims = assert_entra_token(&s, token, audience, &issuer).await;
            let acr_claim = if suffix.is_empty() {
                "appidacr"
            } else {
                "azpacr"
            };
            assert_eq!(claims[acr_claim], acr, "{name}");
        }
    }
    let log = s.log_text();
    assert!(
        log.contains(&format!(
            "GET {V2_ISSUER_HOST}/{TENANT}/v2.0/.well-known/openid-configuration 200"
        )),
        "{log}"
    );
    assert!(!log.contains(" 404 "), "{log}");
}

/// Instance discovery as real clients do it: an authority that is not Microsoft's (serve's own
/// address, given as configuration: MSAL's authority, Azure Identity's AZURE_AUTHORITY_HOST),
/// discovery left on, so both ask login.microsoftonline.com/common/discovery/instance (through
/// the proxy) whether to trust it, then go to serve directly (NO_PROXY).
#[tokio::test]
async fn instance_discovery_stays_on_for_a_custom_authority() {
    let Some(python) = python() else { return };
    let s = proxy_server();
    let f = fixture();
    let bundle = f.dir.join("proxy-and-service-ca.pem");
    let mut both = std::fs::read(s.field("proxy_ca_file")).unwrap();
    both.extend(std::fs::read(s.field("ca_file")).unwrap());
    std::fs::write(&bundle, both).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/unmodified_client.py"
    );
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .env("TENANT", TENANT)
        .env("CLIENT_ID", APP)
        .env("SCOPE", "api://orders/.default")
        .env("CERT_PEM", &f.main.cert_pem)
        .env("KEY_PEM", &f.main.key_pem)
        .env("THUMBPRINT", f.main.thumbprint_hex())
        .env("CLIENT_SECRET", SECRET);
    client_env(&mut cmd, &s);
    cmd.env("AUTHORITY_HOST", s.base())
        .env("AZURE_AUTHORITY_HOST", s.base())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("REQUESTS_CA_BUNDLE", &bundle);
    let result = json_output("the Python client", cmd.output().unwrap());
    let issuer = format!("{}/{TENANT}/v2.0", s.base());
    for name in [
        "msal_certificate",
        "msal_secret",
        "azure_identity_certificate",
        "azure_identity_secret",
    ] {
        let token = result[name]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {result}"));
        assert_entra_token(&s, token, ORDERS_API, &issuer).await;
    }
    let log = s.log_text();
    assert!(
        log.contains("GET https://login.microsoftonline.com/common/discovery/instance 200"),
        "{log}"
    );
}

#[tokio::test]
async fn azure_identity_for_node_runs_unchanged_through_the_proxy() {
    let Some(dir) = node_clients() else { return };
    let s = proxy_server();
    let f = fixture();
    let pem = f.dir.join("main-cert-and-key.pem");
    let mut both = std::fs::read(&f.main.cert_pem).unwrap();
    both.extend(std::fs::read(&f.main.key_pem).unwrap());
    std::fs::write(&pem, both).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("azure_identity.mjs"))
        .env("TENANT", TENANT)
        .env("CLIENT_ID", APP)
        .env("SCOPE", "api://orders/.default")
        .env("CERT_AND_KEY_PEM", &pem)
        .env("CLIENT_SECRET", SECRET);
    client_env(&mut cmd, &s);
    let result = json_output("@azure/identity", cmd.output().unwrap());
    let issuer = format!("{V2_ISSUER_HOST}/{TENANT}/v2.0");
    for (name, acr) in [
        ("azure_identity_certificate", "2"),
        ("azure_identity_secret", "1"),
    ] {
        let token = result[name]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {result}"));
        let claims = assert_entra_token(&s, token, ORDERS_API, &issuer).await;
        assert_eq!(claims["azpacr"], acr, "{name}");
    }
}

/// A private network and mount namespace in which `login.microsoftonline.com` resolves to
/// 127.0.0.1 through a hosts entry, as a container or CI job would set it up. Killed on drop.
struct Namespace {
    holder: Child,
    user_namespace: bool,
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

impl Namespace {
    fn new(hosts: &Path) -> Namespace {
        let setup =
            "ip link set lo up && mount --bind \"$0\" /etc/hosts && echo ready && exec sleep 600";
        // As root a plain namespace; otherwise a user namespace, where the caller is root too.
        for unshare in [&["-n", "-m"][..], &["-r", "-n", "-m"][..]] {
            let mut holder = Command::new("unshare")
                .args(unshare)
                .args(["sh", "-c", setup])
                .arg(hosts)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("unshare (util-linux) must be installed");
            let mut line = String::new();
            let _ = BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut line);
            if line.trim() == "ready" {
                return Namespace {
                    holder,
                    user_namespace: unshare.contains(&"-r"),
                };
            }
            let _ = holder.kill();
            let _ = holder.wait();
        }
        panic!("cannot make a network namespace with unshare (as root, or with user namespaces)");
    }

    /// `program` run inside the namespace.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-n", "-m"]);
        if self.user_namespace {
            cmd.args(["-U", "--preserve-credentials"]);
        }
        cmd.arg(program);
        cmd
    }
}

/// MSAL Node ignores HTTPS_PROXY; with a hosts entry pointing login.microsoftonline.com at
/// serve's main listener on 443, the SNI route gives it Entra's name and certificate.
#[tokio::test]
async fn msal_node_runs_unchanged_through_the_sni_route() {
    let Some(dir) = node_clients() else { return };
    for (tool, version) in [
        ("unshare", "--version"),
        ("nsenter", "--version"),
        ("ip", "-V"),
    ] {
        let install = "apt-get install util-linux iproute2";
        let Some(()) = program(tool, &[version], install) else {
            return;
        };
    }
    let f = fixture();
    let hosts = f.dir.join("hosts-sni-route");
    std::fs::write(&hosts, "127.0.0.1 localhost login.microsoftonline.com\n").unwrap();
    let ns = Namespace::new(&hosts);
    let state = proxy_state();
    let log = f.dir.join("serve-sni-route.log");
    let mut serve = ns.command(env!("CARGO_BIN_EXE_certgen"));
    serve
        .args([
            "serve",
            "--listen",
            "127.0.0.1:443",
            "--proxy",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .args(["--config", f.config.to_str().unwrap()])
        .env(SECRET_VAR, SECRET)
        .env(EXPIRED_SECRET_VAR, EXPIRED_SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = serve.spawn().unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let ready: Value = serde_json::from_str(&ready).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!(
            "no ready line: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let sha256 = hex::encode_upper(f.main.sha256());
    let out = ns
        .command("node")
        .arg(dir.join("msal_node.mjs"))
        .env("TENANT", TENANT)
        .env("CLIENT_ID", APP)
        .env("SCOPE", "api://orders/.default")
        .env("KEY_PEM", &f.main.key_pem)
        .env("THUMBPRINT_SHA256", &sha256)
        .env("CLIENT_SECRET", SECRET)
        // Only the CA: no proxy variable at all.
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env(
            "NODE_EXTRA_CA_CERTS",
            ready["proxy_ca_file"].as_str().unwrap(),
        )
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let result = json_output("MSAL Node", out);
    let mut log_text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut log_text)
        .unwrap();
    let issuer = format!("{V2_ISSUER_HOST}/{TENANT}/v2.0");
    for (name, acr) in [("msal_node_certificate", "2"), ("msal_node_secret", "1")] {
        let token = result[name]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {result}\n{log_text}"));
        // The namespace is gone; the claims are judged by the JWKS of a server on the same
        // state folder (same signing key), reached through its proxy.
        let s = proxy_server();
        let claims = assert_entra_token(&s, token, ORDERS_API, &issuer).await;
        assert_eq!(claims["azpacr"], acr, "{name}");
    }
    assert!(
        log_text.contains(&format!(
            "POST {V2_ISSUER_HOST}/{TENANT}/oauth2/v2.0/token 200"
        )),
        "{log_text}"
    );
}

/// An assertion's `aud` names the host the client reached: Entra's token URL through the
/// proxy, the service's own address directly — never the other way round.
#[tokio::test]
async fn assertion_audience_follows_the_name_reached() {
    let s = proxy_server();
    let f = fixture();
    let entra_url = format!("{V2_ISSUER_HOST}/{TENANT}/oauth2/v2.0/token");
    let assertion = |aud: &str| {
        let mut c = claims(&s);
        c["aud"] = Value::from(aud);
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": f.main.x5t()});
        sign_rsa(&header, &c, &f.main.key_pkcs1, Algorithm::RS256)
    };
    let form = |jwt: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", APP.to_string()),
            ("scope", "api://orders/.default".to_string()),
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
            ("client_assertion", jwt.to_string()),
        ]
    };
    let post = |client: reqwest::Client, url: String, jwt: String| async move {
        let resp = client.post(url).form(&form(&jwt)).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    let through_proxy = post(proxied(&s), entra_url.clone(), assertion(&entra_url)).await;
    assert_eq!(through_proxy.0, 200, "{}", through_proxy.1);
    let direct_url = s.token_url(TENANT);
    let crossed = post(proxied(&s), entra_url.clone(), assertion(&direct_url)).await;
    assert_refusal(&crossed, 401, "invalid_client", 700023);
    let crossed = post(s.client(), direct_url.clone(), assertion(&entra_url)).await;
    assert_refusal(&crossed, 401, "invalid_client", 700023);
}

/// A bad `--proxy` is a usage error; a proxy port in use is named with its flag. One `error:`
/// line each, no panic, and nothing left listening.
#[test]
fn bad_proxy_addresses_are_refused() {
    let f = fixture();
    let serve = |proxy: &str| {
        Command::new(env!("CARGO_BIN_EXE_certgen"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--proxy",
                proxy,
                "--state-dir",
            ])
            .arg(proxy_state())
            .args(["--config", f.config.to_str().unwrap()])
            .env(SECRET_VAR, SECRET)
            .env(EXPIRED_SECRET_VAR, EXPIRED_SECRET)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = serve("nonsense");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: --proxy 'nonsense' is not an ADDR:PORT\n"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(&addr);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "error: cannot listen on {addr}: the address is already in use\n"
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: choose another --proxy address"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// With `--http` the main listener speaks plain HTTP, and the proxy still terminates TLS for
/// the Microsoft names itself; the ready line has no `ca_file`, only `proxy_ca_file`.
#[tokio::test]
async fn the_proxy_terminates_tls_even_when_the_listener_is_plain_http() {
    let s = start(proxy_state(), &["--http"]);
    assert!(s.ready["ca_file"].is_null(), "{}", s.ready);
    let (st, doc) = get(
        &proxied(&s),
        &format!("{V2_ISSUER_HOST}/{TENANT}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(st, 200, "{doc}");
    assert_eq!(doc["issuer"], format!("{V2_ISSUER_HOST}/{TENANT}/v2.0"));
    assert!(s.base().starts_with("http://127.0.0.1:"), "{}", s.base());
}

/// A leaf for `san` (an openssl `subjectAltName` value), signed with the local CA's key by
/// `openssl x509 -req`: what anyone holding the CA files could make.
fn leaf_signed_by_local_ca(dir: &Path, state: &Path, name: &str, san: &str) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let ext = dir.join(format!("{name}.ext"));
    let cert = dir.join(format!("{name}.pem"));
    crate::support::openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.to_str().unwrap(),
        "-subj",
        "/O=certgen test leaf",
        "-out",
        csr.to_str().unwrap(),
    ]);
    std::fs::write(&ext, format!("subjectAltName = {san}\n")).unwrap();
    crate::support::openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        state.join("proxy-ca.pem").to_str().unwrap(),
        "-CAkey",
        state.join("proxy-ca-key.pem").to_str().unwrap(),
        "-CAcreateserial",
        "-CAserial",
        dir.join("ca.srl").to_str().unwrap(),
        "-days",
        "1",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    cert
}

/// Issue 19 item 7: the local CA vouches for exactly the served hosts (RFC 5280 §4.2.1.10):
/// a leaf its key signs for an IP address, a wildcard or a subdomain of a served host, or
/// another site, fails `openssl verify`; a leaf for a served host verifies. A CA an older
/// version made (DNS names permitted, nothing excluded) is made anew at the next start.
#[test]
fn the_local_ca_vouches_for_exactly_the_served_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = start(&state, &[]);
    let ca = s.field("proxy_ca_file");
    drop(s);
    let verify = |leaf: &Path| {
        let out =
            crate::support::openssl_output(&["verify", "-CAfile", &ca, leaf.to_str().unwrap()]);
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for (name, san, why) in [
        ("ipv4", "IP:93.184.216.34", "excluded subtree violation"),
        ("ipv6", "IP:2001:db8::1", "excluded subtree violation"),
        (
            "wildcard",
            "DNS:*.graph.microsoft.com",
            "excluded subtree violation",
        ),
        (
            "subdomain",
            "DNS:evil.login.microsoftonline.com",
            "excluded subtree violation",
        ),
        ("other", "DNS:example.com", "permitted subtree violation"),
    ] {
        let leaf = leaf_signed_by_local_ca(dir.path(), &state, name, san);
        let (ok, text) = verify(&leaf);
        assert!(!ok, "{san} verified: {text}");
        assert!(text.contains(why), "{san}: {text}");
    }
    for host in ["graph.microsoft.com", "login.microsoftonline.com"] {
        let leaf = leaf_signed_by_local_ca(dir.path(), &state, host, &format!("DNS:{host}"));
        let (ok, text) = verify(&leaf);
        assert!(ok, "{host}: {text}");
    }

    // An older version's CA (DNS constraints only), left in the folder, is replaced.
    let old = dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    let cnf = old.join("ca.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name = dn\n[dn]\n[v3_ca]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n\
         keyUsage = critical,keyCertSign,cRLSign,digitalSignature\n\
         nameConstraints = critical,permitted;DNS:login.microsoftonline.com,permitted;DNS:graph.microsoft.com\n",
    )
    .unwrap();
    crate::support::openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        state.join("proxy-ca-key.pem").to_str().unwrap(),
        "-out",
        state.join("proxy-ca.pem").to_str().unwrap(),
        "-subj",
        "/O=certgen serve (local, offline)/CN=certgen serve proxy CA",
        "-days",
        "30",
        "-config",
        cnf.to_str().unwrap(),
        "-extensions",
        "v3_ca",
    ]);
    let planted = std::fs::read(state.join("proxy-ca.pem")).unwrap();
    let s = start(&state, &[]);
    assert_ne!(std::fs::read(state.join("proxy-ca.pem")).unwrap(), planted);
    assert!(
        s.log_text().contains("made a new local CA"),
        "{}",
        s.log_text()
    );
    drop(s);
    let leaf = leaf_signed_by_local_ca(dir.path(), &state, "ipv4-again", "IP:93.184.216.34");
    assert!(!verify(&leaf).0);
}

/// A CONNECT to login.microsoftonline.com:443, left open: the connection and its status line.
fn open_tunnel(proxy: &str) -> (TcpStream, String) {
    let mut conn = TcpStream::connect(proxy.trim_start_matches("http://")).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(
        b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n\r\n",
    )
    .unwrap();
    let mut head = String::new();
    BufReader::new(&mut conn).read_line(&mut head).unwrap();
    (conn, head.trim_end().to_string())
}

/// Issue 19 item 10: tunnels are capped (`--max-tunnels`, said in the banner): past the cap a
/// CONNECT gets 503 at once, the main listener keeps answering, and a closed tunnel frees its
/// place.
#[tokio::test]
async fn tunnels_are_capped_and_the_main_listener_keeps_answering() {
    let s = start(proxy_state(), &["--max-tunnels", "2"]);
    let proxy = s.field("proxy");
    assert!(
        s.log_text()
            .contains("at most 2 tunnels at once (--max-tunnels)"),
        "{}",
        s.log_text()
    );
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let (conn, head) = open_tunnel(&proxy);
            assert_eq!(head, "HTTP/1.1 200 OK");
            conn
        })
        .collect();
    for _ in 0..3 {
        let (_conn, head) = open_tunnel(&proxy);
        assert_eq!(head, "HTTP/1.1 503 Service Unavailable");
    }
    let health = s
        .client()
        .get(format!("{}/health", s.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(held.pop());
    crate::support::require::wait_until(Duration::from_secs(10), "a freed tunnel", || {
        let (conn, head) = open_tunnel(&proxy);
        let ok = head == "HTTP/1.1 200 OK";
        if ok {
            held.push(conn);
        }
        ok
    });
    assert!(
        s.log_text()
            .contains("CONNECT login.microsoftonline.com:443 503"),
        "{}",
        s.log_text()
    );
}

/// Issue 19 item 18: a client that does not trust the local CA fails its TLS handshake inside
/// the tunnel after `CONNECT … 200`; the proxy logs that, saying so.
#[test]
fn a_client_that_does_not_trust_the_proxy_ca_is_logged() {
    if program("curl", &["--version"], "apt-get install curl").is_none() {
        return;
    }
    let s = proxy_server();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--proxy", &s.field("proxy")])
        .arg("https://login.microsoftonline.com/common/discovery/instance")
        // The system's trust store, which does not hold the local CA.
        .env_remove("SSL_CERT_FILE")
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("REQUESTS_CA_BUNDLE")
        .env("NO_PROXY", "")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "curl trusted the local CA");
    crate::support::require::wait_until(Duration::from_secs(10), "the tls-failed line", || {
        s.log_text().lines().any(|l| {
            l.contains("CONNECT login.microsoftonline.com:443 tls-failed: the client does not trust the proxy CA")
        })
    });
}
