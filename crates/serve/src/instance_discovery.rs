//! `GET /common/discovery/instance`: Entra's list of cloud aliases, which MSAL (Python: api-version
//! 1.0; msal-common: 1.1) and Azure Identity ask before trusting an authority. Answered as
//! Entra does (UNCONFIRMED: chosen because MSAL asks for it; the response shape is MSAL's expectation), so clients can keep instance discovery on.

use reqwest::Url;
use serde_json::{json, Value};

use super::aadsts::Aadsts;
use super::face::Names;
use certgen::cloud::{self, Service, CLOUDS};

/// The answer for an `authorization_endpoint` (the client's authority + `/oauth2/v2.0/authorize`):
/// the discovery document of that authority when its host is a Microsoft identity host or this
/// service's own address (`own_bases`), else AADSTS50049 `invalid_instance`.
pub fn answer(
    names: &Names,
    own_bases: &[String],
    api_version: Option<&str>,
    authorization_endpoint: Option<&str>,
) -> Result<Value, Aadsts> {
    if api_version.is_none_or(str::is_empty) {
        return Err(Aadsts::MissingParameter("api-version"));
    }
    let (origin, tenant) = match authorization_endpoint {
        Some(endpoint) => known_authority(endpoint, own_bases)
            .ok_or_else(|| Aadsts::UnknownInstance(endpoint.to_string()))?,
        // UNCONFIRMED: without an authorization_endpoint, the host asked and `common`.
        None => (names.base.clone(), "common".to_string()),
    };
    Ok(json!({
        "tenant_discovery_endpoint": format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration"),
        // UNCONFIRMED: 1.1 whatever version was asked; MSAL Python (1.0) reads only
        // tenant_discovery_endpoint.
        "api-version": "1.1",
        "metadata": CLOUDS.iter().map(|c| json!({
            "preferred_network": c.identity_hosts[0],
            "preferred_cache": c.preferred_cache,
            "aliases": c.identity_hosts,
        })).collect::<Vec<_>>(),
    }))
}

/// The origin and tenant segment of an authorization endpoint on a known instance.
fn known_authority(endpoint: &str, own_bases: &[String]) -> Option<(String, String)> {
    let url = Url::parse(endpoint).ok()?;
    let microsoft = url.scheme() == "https"
        && url.port().is_none()
        && url
            .host_str()
            .and_then(cloud::host)
            .is_some_and(|h| h.service == Service::Identity);
    let origin = if microsoft {
        url.origin().ascii_serialization()
    } else {
        own_origin(&url, own_bases)?
    };
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.find(|seg| !seg.is_empty()))
        .filter(|t| *t != "oauth2")
        .unwrap_or("common")
        .to_string();
    Some((origin, tenant))
}

/// The service's own base an authority names. MSAL Python sends its authority's host without
/// the port (`https://127.0.0.1/{tenant}/…` for `https://127.0.0.1:8443/{tenant}`), so a missing
/// port matches the service's, and the answer carries it.
fn own_origin(url: &Url, own_bases: &[String]) -> Option<String> {
    own_bases.iter().find_map(|base| {
        let own = Url::parse(base).ok()?;
        let same = own.scheme() == url.scheme()
            && own.host_str()?.eq_ignore_ascii_case(url.host_str()?)
            && url.port().is_none_or(|p| own.port() == Some(p));
        same.then(|| own.origin().ascii_serialization())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::Face;

    fn names() -> Names {
        Face::Direct.names("https://127.0.0.1:8443")
    }

    #[test]
    fn microsoft_and_own_authorities_are_known() {
        let own = vec!["https://127.0.0.1:8443".to_string()];
        let a = answer(
            &names(),
            &own,
            Some("1.1"),
            Some("https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize"),
        )
        .unwrap();
        assert_eq!(
            a["tenant_discovery_endpoint"],
            "https://login.microsoftonline.com/contoso.example/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(a["metadata"][0]["preferred_cache"], "login.windows.net");
        assert_eq!(a["metadata"][0]["aliases"][3], "sts.windows.net");
        let own_answer = answer(
            &names(),
            &own,
            Some("1.0"),
            Some("https://127.0.0.1:8443/t/oauth2/v2.0/authorize"),
        )
        .unwrap();
        assert_eq!(
            own_answer["tenant_discovery_endpoint"],
            "https://127.0.0.1:8443/t/v2.0/.well-known/openid-configuration"
        );
        // MSAL Python drops the port.
        let portless = answer(
            &names(),
            &own,
            Some("1.0"),
            Some("https://127.0.0.1/t/oauth2/v2.0/authorize"),
        )
        .unwrap();
        assert_eq!(
            portless["tenant_discovery_endpoint"],
            "https://127.0.0.1:8443/t/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn other_instances_are_refused() {
        let own = vec!["https://127.0.0.1:8443".to_string()];
        for endpoint in [
            "https://login.example.com/t/oauth2/v2.0/authorize",
            "https://login.microsoftonline.com:8443/t/oauth2/v2.0/authorize",
            "http://login.microsoftonline.com/t/oauth2/v2.0/authorize",
            "https://graph.microsoft.com/t/oauth2/v2.0/authorize",
            "https://127.0.0.1:9999/t/oauth2/v2.0/authorize",
            "http://127.0.0.1:8443/t/oauth2/v2.0/authorize",
            "not a url",
        ] {
            let e = answer(&names(), &own, Some("1.1"), Some(endpoint)).unwrap_err();
            assert_eq!(
                (e.code(), e.error()),
                (50049, "invalid_instance"),
                "{endpoint}"
            );
        }
        let e = answer(&names(), &own, None, None).unwrap_err();
        assert_eq!(e.code(), 900144);
    }
}
