//! Where tokens come from: the authority host (named cloud or URL), the tenant, and the v2
//! token endpoint built from both — which is also the `aud` of a client assertion.
//!
//! Plain `http://` is allowed only to a loopback address, so `certgen serve --http` works for
//! tests while a typo can never send an assertion or a secret over the network unencrypted.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::{Context, Error, InputKind, Result};

/// The named clouds, as `--authority-host` and `AZURE_AUTHORITY_HOST` accept them.
///
/// China uses `login.chinacloudapi.cn`, the host the Azure SDKs (Rust, MSAL Python) use; the
/// national-cloud doc names `login.partner.microsoftonline.cn`, which a user can give as a URL.
pub const NAMED_HOSTS: [(&str, &str); 3] = [
    ("public", "https://login.microsoftonline.com"),
    ("usgov", "https://login.microsoftonline.us"),
    ("china", "https://login.chinacloudapi.cn"),
];

/// Tenant names that select a multi-tenant endpoint, where client credentials cannot work.
const MULTI_TENANT: [&str; 3] = ["common", "organizations", "consumers"];

/// Resolves `--authority-host`: a cloud name (`public`, `usgov`, `china`), an `https://` URL,
/// or an `http://` URL to a loopback address. The result has no trailing slash.
pub fn authority_host(value: &str) -> Result<String> {
    let value = value.trim();
    if let Some((_, url)) = NAMED_HOSTS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
    {
        return Ok((*url).to_string());
    }
    if !value.contains("://") {
        return Err(Error::input(
            InputKind::BadAuthorityHost,
            format!("authority host '{value}' is neither a cloud name nor a URL"),
        ));
    }
    let url = parse_endpoint(value, "authority host")?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::argument(format!(
            "authority host '{value}' must not have a query or fragment"
        )));
    }
    // A whole authority (`https://host/TENANT`, as serve's ready line prints it) would become
    // `https://host/TENANT/TENANT/oauth2/…`, answered with a bare 404: refused here instead. A
    // path that names no tenant is a prefix (a service behind a reverse proxy) and is kept.
    let path = url.path().trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or("");
    let names_tenant = is_guid(last)
        || (is_dns_name(last) && last.contains('.'))
        || MULTI_TENANT.iter().any(|m| m.eq_ignore_ascii_case(last));
    if names_tenant {
        let base = url.as_str().trim_end_matches('/');
        let base = base[..base.len() - last.len()].trim_end_matches('/');
        return Err(Error::input(
            InputKind::AuthorityHostWithTenant {
                host: base.to_string(),
                tenant: last.to_string(),
            },
            format!(
                "authority host '{value}' ends with a tenant ({last}): an authority host is the \
                 service's URL without the tenant, which is given separately"
            ),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Checks a tenant: a GUID or a DNS name (`contoso.onmicrosoft.com`). The multi-tenant names
/// are refused because Entra answers them with AADSTS700023 for a client assertion.
pub fn check_tenant(tenant: &str) -> Result<()> {
    if let Some(name) = MULTI_TENANT
        .iter()
        .find(|name| name.eq_ignore_ascii_case(tenant))
    {
        return Err(Error::input(
            InputKind::MultiTenant,
            format!("tenant '{name}' is not allowed: the client-credentials flow needs a tenant"),
        ));
    }
    if is_guid(tenant) || is_dns_name(tenant) {
        return Ok(());
    }
    Err(Error::input(
        InputKind::BadTenant,
        format!("tenant '{tenant}' is neither a GUID nor a domain name"),
    ))
}

/// The tenant's v2 token endpoint on `host` (a cloud name or URL, as [`authority_host`]
/// takes it), the tenant checked first.
pub fn tenant_token_endpoint(host: &str, tenant: &str) -> Result<String> {
    check_tenant(tenant)?;
    Ok(token_endpoint(&authority_host(host)?, tenant))
}

/// The v2 token endpoint of a tenant: `{host}/{tenant}/oauth2/v2.0/token`.
pub fn token_endpoint(host: &str, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/token", host.trim_end_matches('/'))
}

/// Checks a URL that an assertion or a secret will be sent to (or is addressed to):
/// `https://`, or `http://` to a loopback address only. Returns it parsed.
pub fn check_endpoint_url(url: &str) -> Result<Url> {
    parse_endpoint(url, "URL")
}

/// Whether `s` is a GUID in its 8-4-4-4-12 hex form (any case), as Entra prints them.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A DNS name of at least two labels (tenant domains always have a dot).
pub fn is_dns_name(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn parse_endpoint(value: &str, what: &str) -> Result<Url> {
    let url = Url::parse(value).context(InputKind::Argument, || {
        format!("{what} '{value}' is not a valid URL")
    })?;
    if url.host().is_none() {
        return Err(Error::argument(format!("{what} '{value}' has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::argument(format!(
            "{what} '{value}' must not carry a user name or password"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::input(
            InputKind::InsecureUrl,
            format!("{what} '{value}' uses plain http to a host that is not loopback"),
        )),
        other => Err(Error::argument(format!(
            "{what} '{value}' has scheme '{other}'; only https (or http to loopback) is allowed"
        ))),
    }
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`): the only place
/// certgen sends or fetches anything over plain http.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // `host_str` writes an IPv6 address in brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_clouds_and_urls() {
        for (given, expected) in [
            ("public", "https://login.microsoftonline.com"),
            ("USGOV", "https://login.microsoftonline.us"),
            ("china", "https://login.chinacloudapi.cn"),
            (
                "https://login.partner.microsoftonline.cn/",
                "https://login.partner.microsoftonline.cn",
            ),
            ("http://127.0.0.1:8443/", "http://127.0.0.1:8443"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            (
                "http://localhost:9000/prefix/",
                "http://localhost:9000/prefix",
            ),
        ] {
            assert_eq!(authority_host(given).unwrap(), expected, "{given}");
        }
    }

    #[test]
    fn unsafe_or_malformed_hosts_are_refused() {
        for bad in [
            "http://login.microsoftonline.com",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "ftp://x.example",
            "login.microsoftonline.com",
            "https://",
            "https://user:pw@host.example",
            "https://host.example/?q=1",
            "https://127.0.0.1:8443/11111111-1111-1111-1111-111111111111",
            "https://127.0.0.1:8443/contoso.onmicrosoft.com/",
            "https://login.microsoftonline.com/common",
        ] {
            assert!(authority_host(bad).is_err(), "{bad} accepted");
        }
        assert!(check_endpoint_url("http://127.9.9.9/x").is_ok());
        assert!(check_endpoint_url("http://example.com/token").is_err());
    }

    #[test]
    fn tenants() {
        check_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        check_tenant("contoso.onmicrosoft.com").unwrap();
        for multi in ["common", "organizations", "Consumers"] {
            let e = check_tenant(multi).unwrap_err();
            assert!(e.message().contains("needs a tenant"), "{}", e.message());
        }
        for bad in [
            "",
            "contoso",
            "a b.com",
            "-x.com",
            "x..com",
            "72f988bf-86f1",
        ] {
            assert!(check_tenant(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn endpoint_shape() {
        assert_eq!(
            token_endpoint(
                "https://login.microsoftonline.com",
                "contoso.onmicrosoft.com"
            ),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }
}
