//! Where errors become what a user reads: the [`CliError`] (one `error:` line, `hint:` lines
//! and an exit code) made here from the library's typed [`Error`] and what the command knows
//! it sent.
//!
//! Entra's codes are precise but speak of its side ("the key was not found"); the hints here
//! translate each one the spec lists into what the user can look at on their machine: the
//! thumbprint that was actually sent and the file to upload, the local clock against the
//! server's, the flag that holds the wrong value. Codes and texts change over time
//! (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes), so the message always quotes Entra's own first line as well.

use std::path::Path;

use certgen::certificate::{rfc3339, Certificate, Validity};
use certgen::error::{InputKind, Param, ProviderError, TlsProblem, TransportKind, VerifyError};
use certgen::identity::scope;
use certgen::{Error, RotateError};

use super::error::{CliError, EXIT_FAILURE, EXIT_PROVIDER, EXIT_TRANSPORT, EXIT_USAGE};

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        match e {
            Error::Provider(p) => explain(&p, &Sent::default()),
            Error::Transport(t) => transport(&t),
            Error::Input(i) => input(&i.kind, &i.message),
            Error::Verify(v) => verify(&v),
            Error::Graph(g) => {
                let mut e = CliError::new(EXIT_PROVIDER, g.to_string());
                if let Some(id) = &g.request_id {
                    e = e.with_hint(format!("request-id {id} (what Microsoft support asks for)"));
                }
                e
            }
            Error::Rotate(r) => rotation(r),
            Error::Assertion(inner) => match inner.downcast::<Error>() {
                Ok(e) => CliError::from(*e),
                Err(inner) => super::federation::assertion_error(inner.as_ref())
                    .unwrap_or_else(|| CliError::failure(Error::Assertion(inner).to_string())),
            },
            other => CliError::failure(other.to_string()),
        }
    }
}

/// A stopped rotation, with what to do about it.
fn rotation(r: RotateError) -> CliError {
    let hint = match &r {
        RotateError::Locked { .. } => {
            "let it finish; a cron interval longer than --wait keeps runs apart".to_string()
        }
        RotateError::Expired { .. } => "if no other certificate of the app is valid, an administrator must upload a new one: Azure portal → App registrations → the app → Certificates & secrets → Upload certificate (certgen new makes one)".to_string(),
        RotateError::NoToken { current_names, .. } => format!(
            "nothing was swapped: {current_names} still hold the working certificate; run again \
             (it resumes), or give a longer --wait"
        ),
        _ => return CliError::failure(r.to_string()),
    };
    CliError::failure(r.to_string()).with_hint(hint)
}

/// A token that cannot be read is bad input (exit 1).
impl From<certgen::jose::Error> for CliError {
    fn from(e: certgen::jose::Error) -> Self {
        CliError::failure(e.to_string())
    }
}

impl From<VerifyError> for CliError {
    fn from(e: VerifyError) -> Self {
        verify(&e)
    }
}

/// The values of the command line that are the user's to fix: usage errors (exit 2).
fn is_usage(kind: &InputKind) -> bool {
    use InputKind::*;
    matches!(
        kind,
        Argument
            | BadValue(_)
            | BadAuthorityHost
            | BadTenant
            | MultiTenant
            | BadClientId
            | InsecureUrl
            | Lifetime
            | CredentialConflict
            | NoCredential
            | KeyNeedsCertificate
            | BadSubjectSyntax
            | AuthorityHostWithTenant { .. }
    )
}

const CERTIFICATE_PASSWORD: &str =
    "--password-file FILE (- for stdin) or AZURE_CLIENT_CERTIFICATE_PASSWORD";
const MAKE_RSA: &str = "make an RSA certificate: certgen new --cn NAME";

fn input(kind: &InputKind, message: &str) -> CliError {
    use InputKind::*;
    // The library speaks of files and values; the command line names them by their flags.
    let message = match kind {
        CredentialConflict => "--pfx cannot be combined with --cert or --key".to_string(),
        KeyNeedsCertificate => "--key needs --cert".to_string(),
        BadValue(param) => flagged(*param, message),
        BadSubjectSyntax => flagged(Param::Subject, message),
        _ => message.to_string(),
    };
    let code = if is_usage(kind) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    };
    let hints: Vec<String> = match kind {
        Unrecognised => vec!["certgen reads PEM (certificates and keys), DER certificates and PKCS#12 (.pfx/.p12)".into()],
        PasswordNeeded { key: false } => vec![format!("give the password with {CERTIFICATE_PASSWORD}")],
        PasswordNeeded { key: true } => vec![format!("give its password with {CERTIFICATE_PASSWORD}")],
        LegacyEncryption => vec!["convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW".into()],
        UnsupportedEncryption => vec!["re-encrypt it with PBKDF2 and AES: openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW".into()],
        NotRsa => vec![MAKE_RSA.into()],
        WeakKey { .. } => vec!["make a new certificate: certgen new --cn NAME (RSA 2048 or larger)".into()],
        KeyWithoutCertificate => vec!["give the certificate with --cert FILE (the key alone cannot be identified by Entra)".into()],
        KeyMismatch { names } => vec![format!(
            "the private key and the certificate given ({names}) are not a pair; \
             use the key made together with the certificate (certgen new writes NAME.crt and NAME.key)"
        )],
        KeyNeedsCertificate => vec!["give the certificate with --cert FILE, or both in one file with --pfx".into()],
        NoCredential => vec!["give --cert FILE [--key FILE], or --pfx FILE, or set AZURE_CLIENT_CERTIFICATE_PATH".into()],
        NoKey => vec!["give the key with --key FILE, or a PEM or PKCS#12 file that holds both".into()],
        SeveralKeys => vec!["give a file with exactly one key".into()],
        NoCacheDir => vec!["set CERTGEN_CACHE_DIR to a folder certgen may use".into()],
        Lifetime => vec![format!(
            "Microsoft asks for 5–10 minutes; the default is {}",
            certgen::assertion::DEFAULT_LIFETIME_SECS
        )],
        BadClientId => vec!["use the Application (client) ID from the app registration's Overview page".into()],
        NoScope => vec![format!(
            "the client-credentials flow needs one scope of the form RESOURCE/.default, e.g. --scope {}",
            scope::DEFAULT_SCOPE
        )],
        NotDefaultScope => vec![
            format!(
                "an app token carries every app role granted on one resource: ask for the resource's App ID URI plus /.default, e.g. --scope {}",
                scope::DEFAULT_SCOPE
            ),
            "to send scopes unchanged to another OAuth server, use --token-endpoint URL".into(),
        ],
        SeveralResources => vec!["request one token per resource (run certgen token once for each --scope)".into()],
        BadAuthorityHost => vec!["use public, usgov, china, or a URL such as https://login.microsoftonline.com".into()],
        MultiTenant => vec!["give your directory (tenant) ID, a GUID from the app registration's Overview page, or a domain such as contoso.onmicrosoft.com".into()],
        BadTenant => vec!["the directory (tenant) ID looks like 72f988bf-86f1-41af-91ab-2d7cd011db47".into()],
        InsecureUrl => vec!["use https://, or http:// only to 127.0.0.1, ::1 or localhost (certgen serve --http)".into()],
        NoOutputFolder { dir } => vec![format!("create it first: mkdir -p {}", dir.display())],
        OutputClash => vec!["choose another --name or --out".into()],
        OutputExists => vec!["use --force to replace them, or choose another --name or --out".into()],
        BadSubjectSyntax => vec!["for example --subject 'CN=my-daemon,O=Contoso,C=US'".into()],
        SharedFolder { dir } => vec![format!(
            "certgen does not change the mode of a folder it did not make; run chmod go-w {} if it is yours alone, or choose another folder (CERTGEN_CACHE_DIR, serve --state-dir)",
            dir.display()
        )],
        ForeignFolder { .. } => vec!["choose a folder of your own (CERTGEN_CACHE_DIR, serve --state-dir)".into()],
        TooCostly => vec!["re-encrypt it with default settings: openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW".into()],
        AuthorityHostWithTenant { host, tenant } => vec![format!(
            "use --authority-host {host} --tenant {tenant}"
        )],
        SecretFile => vec!["--secret-file and --password-file take the path of a file that holds the secret or password (- reads it from stdin), never the value itself".into()],
        _ => Vec::new(),
    };
    hints
        .into_iter()
        .fold(CliError::new(code, message), CliError::with_hint)
}

/// The message with the parameter's name at its start replaced by its flag.
fn flagged(param: Param, message: &str) -> String {
    let flag = match param {
        Param::CommonName => "--cn",
        Param::Subject => "--subject",
        Param::KeySize => "--key-size",
        Param::Days => "--days",
        Param::San => "--san",
        _ => return message.to_string(),
    };
    match message.strip_prefix(param.name()) {
        Some(rest) => format!("{flag}{rest}"),
        None => message.to_string(),
    }
}

/// A transport failure (exit 4): the cause is the library's; what to check is ours.
/// Its message names the service that was asked), with the hints of its
/// kind.
fn transport(t: &certgen::TransportError) -> CliError {
    let message = t.to_string();
    let plain_http = t.url.starts_with("http://");
    // Whether --ca-file was given decides what a trust failure means: no extra root at all, or
    // one that is not (or no longer) the server's.
    let trust = if t.extra_roots {
        "the --ca-file given does not hold the root of this certificate: if this is certgen serve, pass the ca_file of its current ready line; behind a TLS-inspecting proxy, pass the proxy's root certificate"
    } else {
        "if this is certgen serve, pass --ca-file with the ca_file of its ready line; behind a TLS-inspecting proxy, pass the proxy's root certificate with --ca-file"
    };
    let stale = if t.extra_roots {
        "if --ca-file names an older copy of the service's certificate, use its current ca_file"
    } else {
        // Only the platform's roots were used: one of them bears the server's issuer name.
        trust
    };
    let hint = match t.kind {
        TransportKind::Timeout => Some("the server or the network is slow or dropping packets: check the URL, or allow more time with --timeout SECS"),
        TransportKind::Refused => Some("nothing listens there: check the port, and that the service (e.g. certgen serve) is running"),
        TransportKind::Reset => Some("a firewall or proxy may be cutting it; an https URL sent to a plain-http server does this too"),
        TransportKind::ConnectTimeout => Some("a firewall may drop the packets: check the host and the network"),
        TransportKind::Dns => Some("check the spelling of the host (--authority-host, --token-endpoint) and the DNS of this machine"),
        TransportKind::NotHttp if plain_http => Some("the server speaks TLS: use https:// (certgen serve speaks plain HTTP only when started with --http)"),
        TransportKind::Closed if plain_http => Some("if the server speaks TLS, use https:// (certgen serve speaks plain HTTP only when started with --http)"),
        TransportKind::Tls(TlsProblem::UnknownIssuer | TlsProblem::OtherCertificate) => Some(trust),
        TransportKind::Tls(TlsProblem::BadSignature) => Some(stale),
        TransportKind::Tls(TlsProblem::WrongName) => Some("use the host name the certificate was issued for"),
        TransportKind::Tls(TlsProblem::Expired) => Some("check the server's certificate, and the local clock"),
        _ => None,
    };
    let mut f = CliError::new(EXIT_TRANSPORT, message);
    if let Some(h) = hint {
        f = f.with_hint(h);
    }
    let proxy_var = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    // Loopback never goes through a proxy, so a proxy is no suspect there.
    let loopback = reqwest::Url::parse(&t.url).is_ok_and(|u| certgen::authority::is_loopback(&u));
    if let Some(var) = proxy_var.filter(|_| !loopback) {
        // The proxy URL may hold a password, so only the variable is named.
        f = f.with_hint(format!(
            "requests go through the proxy set in {var} unless NO_PROXY lists the host: check that proxy too"
        ));
    }
    f
}

/// A rejection is a failure (exit 1) prefixed `token rejected:`; unreachable metadata is a
/// transport failure (4); a bad answer from the provider is exit 3.
fn verify(e: &VerifyError) -> CliError {
    match e {
        VerifyError::Config(_) => CliError::usage(e.to_string()),
        VerifyError::Unreachable { reason, .. } => {
            let f = CliError::new(EXIT_TRANSPORT, e.to_string());
            if reason.contains("certificate") {
                f.with_hint("if the authority uses a private CA (e.g. certgen serve), pass it with --ca-file")
            } else {
                f
            }
        }
        VerifyError::BadResponse { .. } => CliError::new(EXIT_PROVIDER, e.to_string()),
        VerifyError::KeySet { .. } | VerifyError::File { .. } => CliError::failure(e.to_string()),
        _ => CliError::failure(format!("token rejected: {e}")),
    }
}

/// The credential a request carried.
#[derive(Debug, Clone, Copy, Default)]
pub enum SentCredential<'a> {
    /// A client assertion signed with the key of `cert`.
    Certificate {
        cert: &'a Certificate,
        /// The file the certificate was read from.
        file: Option<&'a Path>,
        /// Whether that file also holds the private key (a PKCS#12, a combined PEM), so it
        /// must not be uploaded as it is.
        file_has_key: bool,
        /// `PS256` or `RS256`.
        alg: &'a str,
    },
    /// A client secret; `source` says where it came from (`--secret-file F`, a variable).
    Secret { source: &'a str },
    /// A federated token from `source`, with its claims (unverified) when it could be read.
    Federated {
        source: &'a str,
        claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    },
    #[default]
    Unknown,
}

/// What was sent, for the explanation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent<'a> {
    /// The URL posted to.
    pub endpoint: &'a str,
    pub tenant: Option<&'a str>,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub credential: SentCredential<'a>,
}

/// The error (exit 3) for an error answer, explained from what was sent.
pub fn explain(answer: &ProviderError, sent: &Sent<'_>) -> CliError {
    let mut error = CliError::new(EXIT_PROVIDER, answer.to_string());
    if answer.unusable.is_some() {
        return error;
    }
    let specific = answer
        .code()
        .map(|c| hints(c, answer, sent))
        .unwrap_or_default();
    let has_specific = !specific.is_empty();
    for h in specific {
        error = error.with_hint(h);
    }
    if !has_specific {
        if let Some(uri) = &answer.error_uri {
            error = error.with_hint(format!("Microsoft's page for this code: {uri}"));
        } else if matches!(answer.status, 429 | 500 | 502 | 503 | 504) {
            error = error.with_hint(format!(
                "the service is busy or failing (HTTP {}) and still was after {} attempt{}: try again later",
                answer.status,
                answer.attempts,
                if answer.attempts == 1 { "" } else { "s" }
            ));
        }
    }
    let ids: Vec<String> = [
        ("trace_id", &answer.trace_id),
        ("correlation_id", &answer.correlation_id),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name} {v}")))
    .collect();
    if !ids.is_empty() {
        let when = answer
            .timestamp
            .as_ref()
            .map(|t| format!(", timestamp {t}"))
            .unwrap_or_default();
        error = error.with_hint(format!(
            "{}{when} (quote these when asking an administrator or Microsoft support)",
            ids.join(", ")
        ));
    }
    error
}

/// The hints for one code; empty for a code without a specific explanation.
fn hints(code: u64, answer: &ProviderError, sent: &Sent<'_>) -> Vec<String> {
    let client = if sent.client_id.is_empty() {
        "the client id".to_string()
    } else {
        sent.client_id.to_string()
    };
    let tenant = sent.tenant.unwrap_or("the tenant");
    let scopes = if sent.scopes.is_empty() {
        "(none)".to_string()
    } else {
        sent.scopes.join(" ")
    };
    if let SentCredential::Federated { source, claims } = sent.credential {
        if let Some(h) = super::federation::hints(code, answer, claims, source, sent.client_id) {
            return h;
        }
    }
    match code {
        700027 => signature_hints(answer, sent),
        700024 => clock_hints(answer),
        7000215 => vec![
            "Entra did not accept the client secret: send the secret's Value, not its Secret ID (the portal shows the Value only once, under Certificates & secrets → Client secrets)".into(),
            secret_source_hint(sent),
        ],
        7000222 => vec![format!(
            "the client secret of app {client} has expired: create a new one under Certificates & secrets → Client secrets, or move to a certificate (certgen new)"
        )],
        700016 => vec![format!(
            "no application {client} in tenant {tenant}: --client-id must be the Application (client) ID from the app's Overview page (not its Object ID), registered in this tenant or consented to by its administrator"
        )],
        90002 => vec![format!(
            "tenant {tenant} does not exist in this cloud: copy the Directory (tenant) ID from the app's Overview page, and check --authority-host (public, usgov, china) matches the cloud the tenant lives in"
        )],
        900023 => vec![format!(
            "{tenant} is neither a tenant GUID nor a DNS name: use the Directory (tenant) ID or a verified domain such as contoso.onmicrosoft.com"
        )],
        70011 | 1002012 | 700022 => vec![format!(
            "the scope sent was {scopes}: the client-credentials flow takes exactly one resource as RESOURCE/.default (its Application ID URI or app id), e.g. --scope {}",
            scope::DEFAULT_SCOPE
        )],
        500011 => {
            let resource = sent
                .scopes
                .first()
                .map(|s| scope::resource_of(s).unwrap_or(s).to_string())
                .unwrap_or_else(|| "the resource".into());
            vec![format!(
                "tenant {tenant} has no service principal for {resource}: check the Application ID URI in --scope (Expose an API on the API's registration) and that the API is registered or consented to in this tenant"
            )]
        }
        50032 => {
            let bits = match sent.credential {
                SentCredential::Certificate { cert, .. } => cert
                    .key
                    .rsa_bits()
                    .map(|b| format!(" (this one is RSA {b})"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            vec![format!(
                "Entra needs an RSA key of at least 2048 bits{bits}: make a new certificate with certgen new (RSA 2048 by default) and upload its .cer"
            )]
        }
        5002741 | 700023 => vec![format!(
            "the assertion's aud must be one value, the URL posted to ({}): drop --audience, or give it exactly that URL",
            if sent.endpoint.is_empty() { "the token endpoint" } else { sent.endpoint }
        )],
        7000218 | 7000216 => vec![
            "the request carried no credential: give a certificate (--cert/--key, --pfx, AZURE_CLIENT_CERTIFICATE_PATH) or a secret (--secret-file, AZURE_CLIENT_SECRET)".into(),
        ],
        50027 | 5002730 => vec![
            "Entra could not use the assertion: try --alg RS256 (the older form every Entra cloud and ADFS accept), and check the key is RSA".into(),
        ],
        _ => Vec::new(),
    }
}

fn signature_hints(answer: &ProviderError, sent: &Sent<'_>) -> Vec<String> {
    let SentCredential::Certificate {
        cert,
        file,
        file_has_key,
        alg,
    } = sent.credential
    else {
        return vec![
            "Entra did not find the certificate that signed the assertion among the app's certificates: upload it under Certificates & secrets → Certificates".into(),
        ];
    };
    let t = &cert.thumbprints;
    // Entra's text quotes the thumbprint the assertion named: SHA-256 for PS256 (x5t#S256),
    // SHA-1 for RS256 (x5t). The portal lists SHA-1 thumbprints, so that one is always shown.
    let named = if alg.eq_ignore_ascii_case("RS256") {
        format!(
            "the assertion ({alg}) named its certificate by thumbprint {} (x5t {})",
            t.thumbprint(),
            t.x5t()
        )
    } else {
        format!(
            "the assertion ({alg}) named its certificate by SHA-256 thumbprint {} (x5t#S256 {}), whose portal thumbprint is {} (x5t {})",
            t.thumbprint_sha256(),
            t.x5t_s256(),
            t.thumbprint(),
            t.x5t()
        )
    };
    // An expired certificate is refused even while registered: uploading it again cannot help.
    let expired = cert.validity_at(answer.received_at.into()) == Validity::Expired
        || answer
            .first_line()
            .is_some_and(|l| l.contains("The key used is expired"));
    if expired {
        return vec![
            format!(
                "{named}; that certificate expired on {}, and Entra refuses an expired certificate even while it is registered",
                rfc3339(cert.not_after)
            ),
            "make a new certificate (certgen new) and upload its .cer under Certificates & secrets → Certificates; next time, renew before it expires with certgen rotate".into(),
        ];
    }
    let mut out = vec![format!(
        "{named}: the app's Certificates & secrets → Certificates list must show {}",
        t.thumbprint()
    )];
    let app = if sent.client_id.is_empty() {
        "the app registration".to_string()
    } else {
        format!("app {}", sent.client_id)
    };
    out.push(match (file, file_has_key) {
        (Some(f), false) => format!("if it is missing, upload {} to {app}", f.display()),
        (Some(f), true) => format!(
            "if it is missing, upload the certificate of {} to {app}, never the key: certgen new writes it as a .cer; for this file, save its certificate alone (e.g. openssl x509 -in CERT.pem -out upload.cer -outform der)",
            f.display()
        ),
        (None, _) => format!("if it is missing, upload this certificate to {app}"),
    });
    out
}

fn clock_hints(answer: &ProviderError) -> Vec<String> {
    let local = rfc3339(answer.received_at.into());
    match (answer.server_date, answer.clock_offset()) {
        (Some(server), Some(offset)) => {
            let verdict = match offset {
                o if o.abs() <= 5 => format!(
                    "they agree within {} s, so the clock is not the cause: the assertion was stale or its lifetime wrong (check --lifetime and that nothing reuses an old assertion)",
                    o.abs()
                ),
                o if o > 0 => format!("the local clock is {o} s ahead: set it right (NTP, e.g. timedatectl set-ntp true)"),
                o => format!("the local clock is {} s behind: set it right (NTP, e.g. timedatectl set-ntp true)", -o),
            };
            vec![format!(
                "the assertion's time window did not fit the server's clock: local clock {local}, server Date {}; {verdict}",
                rfc3339(server.into())
            )]
        }
        _ => vec![format!(
            "the assertion's time window did not fit the server's clock; local clock {local} (the server sent no Date to compare): check the clock (NTP) and --lifetime"
        )],
    }
}

fn secret_source_hint(sent: &Sent<'_>) -> String {
    match sent.credential {
        SentCredential::Secret { source } => format!(
            "the secret came from {source}: it must hold the value alone (one line), and be a secret of app {} that has not been deleted",
            if sent.client_id.is_empty() { "the app" } else { sent.client_id }
        ),
        _ => "check the secret is one line holding the value alone".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
    use time::macros::datetime;
    use time::OffsetDateTime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00:00 UTC);

    fn answer(status: u16, body: &str) -> ProviderError {
        ProviderError::parse(status, body.as_bytes(), None, NOW)
    }

    fn cert() -> Certificate {
        let g = generate(&NewCertificate {
            subject: Subject::common_name("explain-test").unwrap(),
            sans: vec![],
            days: 30,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
        .unwrap();
        g.cert
    }

    fn text(e: &CliError) -> String {
        let mut s = e.message().to_string();
        for h in e.hints() {
            s.push('\n');
            s.push_str(h);
        }
        s
    }

    #[test]
    fn the_700027_hint_names_the_thumbprint_sent_and_the_file() {
        let cert = cert();
        let a = answer(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS700027: Client assertion failed signature validation.\r\nTrace ID: t1\r\nCorrelation ID: c1","error_codes":[700027],"trace_id":"t1","correlation_id":"c1"}"#,
        );
        let sent = Sent {
            endpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            tenant: Some("contoso.onmicrosoft.com"),
            client_id: "11111111-2222-3333-4444-555555555555",
            scopes: &[],
            credential: SentCredential::Certificate {
                cert: &cert,
                file: Some(Path::new("my-daemon.crt")),
                file_has_key: false,
                alg: "PS256",
            },
        };
        let e = explain(&a, &sent);
        assert_eq!(e.code(), EXIT_PROVIDER);
        assert_eq!(
            e.message(),
            "the token endpoint refused the request: invalid_client (HTTP 401): AADSTS700027: Client assertion failed signature validation."
        );
        let all = text(&e);
        assert!(all.contains(&cert.thumbprints.thumbprint()), "{all}");
        assert!(all.contains(&cert.thumbprints.x5t()), "{all}");
        assert!(all.contains(&cert.thumbprints.x5t_s256()), "{all}");
        assert!(all.contains(&cert.thumbprints.thumbprint_sha256()), "{all}");
        assert!(all.contains("upload my-daemon.crt"), "{all}");
        assert!(all.contains("trace_id t1, correlation_id c1"), "{all}");
    }

    #[test]
    fn a_pfx_is_never_offered_for_upload_as_it_is() {
        let cert = cert();
        let sent = Sent {
            credential: SentCredential::Certificate {
                cert: &cert,
                file: Some(Path::new("app.pfx")),
                file_has_key: true,
                alg: "RS256",
            },
            ..Default::default()
        };
        let all = text(&explain(
            &answer(401, r#"{"error":"invalid_client","error_codes":[700027]}"#),
            &sent,
        ));
        assert!(all.contains("never the key"), "{all}");
        let t = &cert.thumbprints;
        let named = format!("thumbprint {} (x5t {})", t.thumbprint(), t.x5t());
        assert!(all.contains(&named), "{all}");
        assert!(
            !all.contains("x5t#S256"),
            "an RS256 assertion names no SHA-256: {all}"
        );
    }

    #[test]
    fn the_700024_hint_compares_the_clocks() {
        let server = datetime!(2026-11-21 11:54:00 UTC);
        let a = ProviderError::parse(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS700024: Client assertion is not within its valid time range."}"#,
            Some(server),
            NOW,
        );
        let all = text(&explain(&a, &Sent::default()));
        assert!(all.contains("360 s ahead"), "{all}");
        assert!(all.contains("2026-11-21T11:54:00Z"), "{all}");
        assert!(all.contains("2026-11-21T12:00:00Z"), "{all}");

        let behind = ProviderError::parse(401, br#"{"error_codes":[700024]}"#, Some(NOW), server);
        assert!(text(&explain(&behind, &Sent::default())).contains("360 s behind"));
        let agree = ProviderError::parse(401, br#"{"error_codes":[700024]}"#, Some(NOW), NOW);
        assert!(text(&explain(&agree, &Sent::default())).contains("not the cause"));
    }

    #[test]
    fn every_listed_code_has_its_own_hint() {
        let scopes = vec!["User.Read".to_string()];
        let sent = Sent {
            endpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            tenant: Some("contoso.example"),
            client_id: "app-1",
            scopes: &scopes,
            credential: SentCredential::Secret {
                source: "AZURE_CLIENT_SECRET",
            },
        };
        let expect: &[(u64, &str)] = &[
            (7000215, "not its Secret ID"),
            (7000222, "has expired"),
            (700016, "Application (client) ID"),
            (90002, "does not exist in this cloud"),
            (900023, "neither a tenant GUID nor a DNS name"),
            (70011, "the scope sent was User.Read"),
            (1002012, "RESOURCE/.default"),
            (500011, "no service principal for User.Read"),
            (50032, "at least 2048 bits"),
            (5002741, "one value, the URL posted to (https://login.microsoftonline.com/t/oauth2/v2.0/token)"),
        ];
        for (code, needle) in expect {
            let a = answer(
                400,
                &format!(r#"{{"error":"invalid_request","error_codes":[{code}]}}"#),
            );
            let e = explain(&a, &sent);
            let all = text(&e);
            assert!(all.contains(needle), "{code}: {all}");
            assert!(
                e.message().contains(&format!("AADSTS{code}")),
                "{code}: {all}"
            );
            assert!(!all.contains("Microsoft's page"), "{code}: {all}");
        }
        let all = text(&explain(
            &answer(401, r#"{"error_codes":[7000215]}"#),
            &sent,
        ));
        assert!(all.contains("from AZURE_CLIENT_SECRET"), "{all}");
    }

    #[test]
    fn an_unknown_code_points_at_microsofts_page() {
        let a = answer(
            400,
            r#"{"error":"invalid_request","error_description":"AADSTS9999: Something new.","error_uri":"https://login.microsoftonline.com/error?code=9999"}"#,
        );
        let e = explain(&a, &Sent::default());
        assert_eq!(
            e.hints(),
            ["Microsoft's page for this code: https://login.microsoftonline.com/error?code=9999"]
        );
    }

    #[test]
    fn an_exhausted_retry_names_the_status_and_attempts() {
        let mut a = answer(503, "<html>busy</html>");
        a.attempts = 3;
        let e = explain(&a, &Sent::default());
        assert_eq!(
            e.message(),
            "the token endpoint answered HTTP 503 after 3 attempts: <html>busy</html>"
        );
        assert!(e.hints()[0].contains("after 3 attempts"), "{:?}", e.hints());
    }
}
