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

/// serve's config file, with no environment variables set and paths resolved in a folder
/// holding nothing.
pub fn config(data: &[u8]) {
    use certgen::serve::config::{Flags, Registry};
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
    use certgen::serve::face::Face;
    use certgen::serve::grant::{form_fields, TokenRequest};
    use certgen::serve::tokens::Endpoint;
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

pub const FUZZ_TENANT: &str = "2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718";
pub const FUZZ_APP: &str = "6f1c5e8a-0000-4000-8000-000000000001";

/// A lenient and a strict service, made once.
fn services() -> &'static [certgen::serve::grant::TokenService; 2] {
    use certgen::serve::config::{Flags, Registry};
    use certgen::serve::grant::TokenService;
    use certgen::serve::tokens::SigningKey;
    static SERVICES: std::sync::OnceLock<[TokenService; 2]> = std::sync::OnceLock::new();
    SERVICES.get_or_init(|| {
        // The fuzz crate sits in fuzz/, the replay test's package at the root: both find the
        // repository's fixtures/ folder.
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = [manifest.join("fixtures"), manifest.join("../fixtures")]
            .into_iter()
            .find(|d| d.join("rsa.crt").is_file())
            .expect("the repository's fixtures/ folder");
        let flags = Flags {
            tenants: vec![FUZZ_TENANT.into(), "contoso.example".into()],
            app_certs: vec![(FUZZ_APP.into(), fixtures.join("rsa.crt"))],
            app_secrets: vec![(FUZZ_APP.into(), "FUZZ_SECRET".into())],
        };
        let none = SecretSource::default();
        let cert = certgen::input::load(&fixtures.join("rsa.crt"), &none)
            .expect("fixtures/rsa.crt")
            .certs
            .remove(0);
        let key = certgen::input::load(&fixtures.join("rsa.key"), &none)
            .expect("fixtures/rsa.key")
            .keys
            .remove(0);
        let make = |strict| {
            let registry = Registry::load(None, &flags, &|_| Some("fuzz-secret".into()))
                .expect("the fuzz registry");
            let base = "https://127.0.0.1:8443".to_string();
            TokenService {
                registry,
                signer: SigningKey::new(cert.clone(), &key).expect("the fixture key"),
                audience_bases: vec![base.clone()],
                base,
                strict,
                replay: Default::default(),
                keys: certgen::serve::keys::KeyRegistry::new(0),
                flows: Default::default(),
            }
        };
        [make(false), make(true)]
    })
}
