//! OpenID discovery documents (v2 and v1) and the JWKS that publishes the signing key, with
//! the fields of Entra's live documents that clients and API validators read (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc>).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use super::face::Names;
use super::tokens::SigningKey;
use certgen::certificate::{strip_leading_zeros, CertKey};
use certgen::cloud::{Cloud, CLOUDS};

/// The v2 document at `/{tenant}/v2.0/.well-known/openid-configuration`; `tid` is
/// [`TENANT_TEMPLATE`] for the multi-tenant segments.
pub fn openid_configuration_v2(names: &Names, tenant_segment: &str, tid: &str) -> Value {
    let t = format!("{}/{tenant_segment}", names.base);
    json!({
        "token_endpoint": format!("{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": names.issuer_v2(tid),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "oid", "azp", "azpacr", "roles", "idtyp", "uti", "scp", "name", "preferred_username", "email", "nonce"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": cloud(names).cloud_instance_name,
        "cloud_graph_host_name": cloud(names).cloud_graph_host_name,
        "msgraph_host": names.msgraph_host(),
        "rbac_url": "https://pas.windows.net",
    })
}

/// The v1 document at `/{tenant}/.well-known/openid-configuration`.
pub fn openid_configuration_v1(names: &Names, tenant_segment: &str, tid: &str) -> Value {
    let t = format!("{}/{tenant_segment}", names.base);
    json!({
        "token_endpoint": format!("{t}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{t}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": names.issuer_v1(tid),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{t}/oauth2/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{t}/oauth2/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "oid", "appid", "appidacr", "roles", "idtyp", "uti", "idp", "scp", "name", "upn", "unique_name", "nonce"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": cloud(names).cloud_instance_name,
        "cloud_graph_host_name": cloud(names).cloud_graph_host_name,
        "msgraph_host": names.msgraph_host(),
        "rbac_url": "https://pas.windows.net",
    })
}

/// The tenant id of the multi-tenant documents (`/common`, `/organizations`), as Entra writes it.
pub const TENANT_TEMPLATE: &str = "{tenantid}";

/// The cloud a document describes: the public cloud when the service is reached directly.
fn cloud(names: &Names) -> &'static Cloud {
    names.cloud.unwrap_or(&CLOUDS[0])
}

/// The key set: one RSA key, with the per-key `issuer` v2 keys carry.
pub fn jwks(signer: &SigningKey, issuer: &str) -> Value {
    let (n, e) = match &signer.certificate.key {
        CertKey::Rsa { n, e } => (
            URL_SAFE_NO_PAD.encode(strip_leading_zeros(n)),
            URL_SAFE_NO_PAD.encode(strip_leading_zeros(e)),
        ),
        // SigningKey::new only accepts RSA, so this arm publishes nothing rather than panic.
        CertKey::Other(_) => return json!({ "keys": [] }),
    };
    json!({
        "keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": signer.kid,
            "x5t": signer.kid,
            "n": n,
            "e": e,
            "x5c": [STANDARD.encode(signer.certificate.der())],
            "issuer": issuer,
        }]
    })
}
