//! Turns an error answer of the token endpoint into an `error:` line and hints that name the
//! local thing to check.
//!
//! Entra's codes are precise but speak of its side ("the key was not found"); the hints here
//! translate each one the spec lists into what the user can look at on their machine: the
//! thumbprint that was actually sent and the file to upload, the local clock against the
//! server's, the flag that holds the wrong value. Codes and texts change over time
//! (entra-protocol.md §3), so the message always quotes Entra's own first line as well.

use std::path::Path;

use crate::certificate::{rfc3339, Certificate};
use crate::error::{Error, ErrorKind};

use super::response::ErrorAnswer;
use super::scope;

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

/// The error (exit 3) for an error answer.
pub fn explain(answer: &ErrorAnswer, sent: &Sent<'_>) -> Error {
    let mut error = Error::new(ErrorKind::Provider, headline(answer));
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

/// `invalid_client (HTTP 401): AADSTS700027: Client assertion …`
fn headline(answer: &ErrorAnswer) -> String {
    let status = format!("HTTP {}", answer.status);
    let mut head = match &answer.error {
        Some(e) => format!("the token endpoint refused the request: {e} ({status})"),
        None => format!("the token endpoint answered {status}"),
    };
    if answer.attempts > 1 {
        head.push_str(&format!(" after {} attempts", answer.attempts));
    }
    let line = answer.first_line().or(answer.body_excerpt.as_deref());
    match (answer.code(), line) {
        (Some(code), Some(line)) if line.contains(&format!("AADSTS{code}")) => {
            format!("{head}: {line}")
        }
        (Some(code), Some(line)) => format!("{head}: AADSTS{code}: {line}"),
        (Some(code), None) => format!("{head}: AADSTS{code}"),
        (None, Some(line)) => format!("{head}: {line}"),
        (None, None) => head,
    }
}

/// The hints for one code; empty for a code without a specific explanation.
fn hints(code: u64, answer: &ErrorAnswer, sent: &Sent<'_>) -> Vec<String> {
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
    match code {
        700027 => signature_hints(sent),
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

fn signature_hints(sent: &Sent<'_>) -> Vec<String> {
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

fn clock_hints(answer: &ErrorAnswer) -> Vec<String> {
    let local = rfc3339(answer.received_at);
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
                rfc3339(server)
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
    use crate::generate::{generate, KeySize, NewCertificate, Profile, Subject};
    use time::macros::datetime;
    use time::OffsetDateTime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00:00 UTC);

    fn answer(status: u16, body: &str) -> ErrorAnswer {
        ErrorAnswer::parse(status, body.as_bytes(), None, NOW)
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

    fn text(e: &Error) -> String {
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
        assert_eq!(e.kind(), ErrorKind::Provider);
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
        let a = ErrorAnswer::parse(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS700024: Client assertion is not within its valid time range."}"#,
            Some(server),
            NOW,
        );
        let all = text(&explain(&a, &Sent::default()));
        assert!(all.contains("360 s ahead"), "{all}");
        assert!(all.contains("2026-11-21T11:54:00Z"), "{all}");
        assert!(all.contains("2026-11-21T12:00:00Z"), "{all}");

        let behind = ErrorAnswer::parse(401, br#"{"error_codes":[700024]}"#, Some(NOW), server);
        assert!(text(&explain(&behind, &Sent::default())).contains("360 s behind"));
        let agree = ErrorAnswer::parse(401, br#"{"error_codes":[700024]}"#, Some(NOW), NOW);
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
