//! One function per fuzzed parser: each takes arbitrary bytes and must return (any result)
//! without panicking, hanging or allocating without bound. Used by the cargo-fuzz targets and,
//! on stable, by the main package's corpus-replay test, which includes this very file.

use certgen::secret::{Secret, SecretSource};

/// The input recogniser: PEM (any block mix), DER certificate or key, PKCS#12 — with no
/// password (as a file without one is read).
pub fn input(data: &[u8]) {
    let _ = certgen::input::load_bytes(data, "fuzz", &SecretSource::default());
}

/// Private-key parsing: PKCS#8, PKCS#1, encrypted PKCS#8 (password "fuzz").
pub fn key(data: &[u8]) {
    use certgen::key::PrivateKey;
    let _ = PrivateKey::from_pkcs8_der(data);
    let _ = PrivateKey::from_pkcs1_der(data);
    let _ = PrivateKey::from_encrypted_pkcs8_der(data, &Secret::new("fuzz"));
}

/// The JOSE parser under both policies, the NumericDate rules on every claim, the Bearer
/// stripper, and a JWK-style key built from the bytes.
pub fn jose(data: &[u8]) {
    use certgen::jose::{self, DateRule, Policy};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for policy in [Policy::Strict, Policy::Lenient] {
        let _ = jose::b64::decode(text, policy);
        if let Ok(jws) = jose::parse(jose::strip_bearer(text), policy) {
            let _ = jws.alg();
            for value in jws.claims.values().chain(jws.header.values()) {
                let _ = jose::numeric_date(value, DateRule::Integer);
                let _ = jose::numeric_date(value, DateRule::Lenient);
            }
        }
    }
    let _ = jose::bearer_token(text);
    let (n, e) = data.split_at(data.len() / 2);
    let _ = jose::VerifyingKey::from_rsa_components(n, e);
}

/// Graph's rules for an addKey/removeKey proof, as serve applies them before the signature:
/// whatever the token says, a proof that breaks no rule has 0 < exp - nbf <= 600 and `now`
/// within [nbf - skew, exp + skew) — checked here on every input, so fuzzing hunts for a
/// counterexample (a forged proof once lasted ten years through an overflow).
pub fn proof(data: &[u8]) {
    use certgen::graph::proof::{broken_rules, Expected, SKEW_SECS};
    use certgen::jose::{self, numeric_date, DateRule, Policy};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    const OID: &str = "4a1b2c3d-0000-4000-8000-000000000001";
    let now = 1_800_000_000;
    let expected = Expected {
        object_id: Some(OID),
        app_id: None,
        now: Some(now),
    };
    let Ok(broken) = broken_rules(text, &expected) else {
        return;
    };
    if !broken.is_empty() {
        return;
    }
    let claims = jose::parse(text.trim(), Policy::Lenient)
        .expect("a proof that breaks no rule parses")
        .claims;
    let time = |name| numeric_date(&claims[name], DateRule::Integer).expect("a time");
    let (nbf, exp) = (time("nbf"), time("exp"));
    let life = exp - nbf;
    assert!(0 < life && life <= 600, "accepted a lifetime of {life} s");
    assert!(
        nbf - SKEW_SECS <= now && now < exp + SKEW_SECS,
        "accepted at the wrong time"
    );
}

/// serve's config file, with no environment variables set and paths resolved in a folder
/// holding nothing.
pub fn config(data: &[u8]) {
    use certgen_serve::{Flags, Registry};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let empty = std::env::temp_dir().join("certgen-fuzz-config-empty");
    let _ = Registry::from_toml(text, "fuzz.toml", &empty, &Flags::default(), &|_| None);
}

/// The token endpoint from the body on: serve's form parsing, HTTP Basic credentials, client
/// assertions (lenient and `--strict`) and the grant, against a service with one app that has
/// a certificate (`fixtures/rsa.crt`) and a secret. The first byte chooses strict or lenient,
/// v1 or v2, whether the first line is an `Authorization` header, the tenant, and whether the
/// request came by the service's address or by a Microsoft host name (proxy mode).
pub fn token_request(data: &[u8]) {
    use certgen_serve::fuzzing::{form_fields, Endpoint, Face, TokenRequest};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (authorization, body) = match (mode & 4 != 0, rest.iter().position(|&b| b == b'\n')) {
        (true, Some(i)) => (std::str::from_utf8(&rest[..i]).ok(), &rest[i + 1..]),
        _ => (None, rest),
    };
    let service = &services()[usize::from(mode & 1)];
    let form = form_fields(body);
    let _ = service.token(&TokenRequest {
        tenant: if mode & 8 != 0 {
            "contoso.example"
        } else {
            FUZZ_TENANT
        },
        endpoint: if mode & 2 != 0 {
            Endpoint::V1
        } else {
            Endpoint::V2
        },
        form: &form,
        authorization,
        // Fixed, so a replayed corpus behaves as it did under the fuzzer.
        now: 1_800_000_000,
        // Reached by the service's own address, or as login.microsoftonline.com (proxy mode).
        face: match certgen::cloud::host("login.microsoftonline.com") {
            Some(host) if mode & 16 != 0 => Face::Microsoft(host),
            _ => Face::Direct,
        },
    });
}

/// The user flows from the browser's side on: an `/authorize` query (up to the first line
/// break), then a token request body in which `CODE` stands for the code the authorization
/// gave, if it gave one. The first byte chooses whether a user is signed in at once
/// (`--auto-sign-in`) or the sign-in page is shown.
pub fn sign_in(data: &[u8]) {
    use certgen_serve::fuzzing::{authorize, form_fields, Answer, Endpoint, Face, TokenRequest};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (query, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let service = &sign_in_services()[usize::from(mode & 1)];
    let now = 1_800_000_000;
    let code = match authorize(service, FUZZ_TENANT, &form_fields(query), None, now) {
        Answer::Back { fields, .. } => fields
            .iter()
            .find(|(k, _)| *k == "code")
            .map(|(_, v)| v.clone()),
        _ => None,
    };
    let body = String::from_utf8_lossy(body);
    let body = match &code {
        Some(c) => body.replace("CODE", c),
        None => body.into_owned(),
    };
    let _ = service.token(&TokenRequest {
        tenant: FUZZ_TENANT,
        endpoint: Endpoint::V2,
        form: &form_fields(body.as_bytes()),
        authorization: None,
        now,
        face: Face::Direct,
    });
}

/// The sign-in fuzz target's registrations: two users, a confidential web app (secret) with
/// a consented API scope, and a public client.
pub const SIGN_IN_CONFIG: &str = r#"
[[tenant]]
id = "2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718"
[[resource]]
app_id = "7a2b0000-0000-4000-8000-000000000002"
identifier_uris = ["api://orders"]
scopes = ["Orders.Read", "Orders.Write"]
access_token_version = 2
[[user]]
user_principal_name = "adele@contoso.example"
display_name = "Adele Vance"
[[user]]
user_principal_name = "alex@contoso.example"
[[app]]
client_id = "6f1c5e8a-0000-4000-8000-000000000001"
secret_env = ["FUZZ_SECRET"]
redirect_uris = ["https://app.example/cb", "http://localhost:5000/getAToken"]
[app.delegated]
"api://orders" = ["Orders.Read"]
[[app]]
client_id = "6f1c5e8a-0000-4000-8000-0000000000a1"
public_client = true
redirect_uris = ["http://localhost"]
"#;

/// Without and with `--auto-sign-in`, made once.
fn sign_in_services() -> &'static [certgen_serve::fuzzing::TokenService; 2] {
    use certgen_serve::fuzzing::UserFlows;
    use certgen_serve::UserFlowOptions as Options;
    use certgen_serve::{Flags, Registry};
    static SERVICES: std::sync::OnceLock<[certgen_serve::fuzzing::TokenService; 2]> =
        std::sync::OnceLock::new();
    SERVICES.get_or_init(|| {
        let make = |auto: Option<&str>| {
            let registry = Registry::from_toml(
                SIGN_IN_CONFIG,
                "fuzz.toml",
                std::path::Path::new(""),
                &Flags::default(),
                &|_| Some("fuzz-secret".into()),
            )
            .expect("the sign-in fuzz registry");
            let mut service = token_service(registry, false);
            service.flows = UserFlows::new(
                Options {
                    auto_sign_in: auto.map(str::to_string),
                    ..Options::default()
                },
                service.directory.shared_store(),
            );
            service
        };
        [make(None), make(Some("adele@contoso.example"))]
    })
}

pub const FUZZ_TENANT: &str = "2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718";
pub const FUZZ_APP: &str = "6f1c5e8a-0000-4000-8000-000000000001";

/// The repository's `fixtures/` folder: the fuzz crate sits in fuzz/, the replay test's
/// package at the root, and both find it.
fn fixtures() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    [manifest.join("fixtures"), manifest.join("../fixtures")]
        .into_iter()
        .find(|d| d.join("rsa.crt").is_file())
        .expect("the repository's fixtures/ folder")
}

/// A service over `registry`, signing with the fixture key.
fn token_service(
    registry: certgen_serve::Registry,
    strict: bool,
) -> certgen_serve::fuzzing::TokenService {
    let none = SecretSource::default();
    let dir = fixtures();
    let cert = certgen::input::load(&dir.join("rsa.crt"), &none)
        .expect("fixtures/rsa.crt")
        .certs
        .remove(0);
    let key = certgen::input::load(&dir.join("rsa.key"), &none)
        .expect("fixtures/rsa.key")
        .keys
        .remove(0);
    let base = "https://127.0.0.1:8443".to_string();
    let directory =
        certgen_serve::fuzzing::Directory::in_memory(&registry).expect("the fuzz directory");
    let flows = certgen_serve::fuzzing::UserFlows::new(
        certgen_serve::UserFlowOptions::default(),
        directory.shared_store(),
    );
    certgen_serve::fuzzing::TokenService {
        directory,
        subscriptions: Vec::new(),
        signer: certgen_serve::fuzzing::SigningKey::new(cert, &key).expect("the fixture key"),
        audience_bases: vec![base.clone()],
        base,
        strict,
        replay: Default::default(),
        public_keys: Default::default(),
        issuers: Default::default(),
        flows,
    }
}

/// A lenient and a strict service, made once.
fn services() -> &'static [certgen_serve::fuzzing::TokenService; 2] {
    use certgen_serve::fuzzing::TokenService;
    use certgen_serve::{Flags, Registry};
    static SERVICES: std::sync::OnceLock<[TokenService; 2]> = std::sync::OnceLock::new();
    SERVICES.get_or_init(|| {
        let flags = Flags {
            tenants: vec![FUZZ_TENANT.into(), "contoso.example".into()],
            app_certs: vec![(FUZZ_APP.into(), fixtures().join("rsa.crt"))],
            app_secrets: vec![(FUZZ_APP.into(), "FUZZ_SECRET".into())],
        };
        let make = |strict| {
            let registry = Registry::load(None, &flags, &|_| Some("fuzz-secret".into()))
                .expect("the fuzz registry");
            token_service(registry, strict)
        };
        [make(false), make(true)]
    })
}
