//! Which Microsoft Graph a URL is on, and the scope a daemon asks for to call it.
//!
//! Each national cloud has its own Graph (<https://learn.microsoft.com/en-us/graph/deployments>): the Graph of
//! an authority host follows from the host. An authority host given as a URL that is not a
//! named cloud (an emulator) answers Graph on its own listener, so there the authority host
//! is also the Graph host, and the token is still for `https://graph.microsoft.com`, the
//! resource an emulator registers Graph under.

use reqwest::Url;

use crate::authority::NAMED_HOSTS;

/// Graph's resource in the public cloud, and its well-known application id.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// The application id of Microsoft Graph (the resource of its tokens).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// (cloud name, Graph host), in the order of [`NAMED_HOSTS`].
pub const GRAPH_HOSTS: [(&str, &str); 3] = [
    ("public", "https://graph.microsoft.com"),
    ("usgov", "https://graph.microsoft.us"),
    ("china", "https://microsoftgraph.chinacloudapi.cn"),
];

/// The Graph host for a resolved authority host (`https://login.microsoftonline.us` →
/// `https://graph.microsoft.us`); any other authority host is its own Graph host.
pub fn graph_host(authority_host: &str) -> String {
    let host = authority_host.trim_end_matches('/');
    NAMED_HOSTS
        .iter()
        .zip(GRAPH_HOSTS)
        .find(|((_, login), _)| login.eq_ignore_ascii_case(host))
        .map(|(_, (_, graph))| graph.to_string())
        .unwrap_or_else(|| host.to_string())
}

/// The scope for calling `url` with an app-only token:
/// - a named cloud's Graph host → that Graph's `/.default`;
/// - the authority host itself, or `extra_graph_host` →
///   `https://graph.microsoft.com/.default` (a Graph stand-in: an emulator, a proxy);
/// - any other origin → `{origin}/.default` (an API whose App ID URI is its address).
pub fn scope_for_url(url: &Url, authority_host: &str, extra_graph_host: Option<&str>) -> String {
    let origin = url.origin().ascii_serialization();
    let same =
        |other: &str| Url::parse(other).is_ok_and(|u| u.origin().ascii_serialization() == origin);
    if let Some((_, graph)) = GRAPH_HOSTS.iter().find(|(_, g)| same(g)) {
        return format!("{graph}/.default");
    }
    if same(authority_host) || extra_graph_host.is_some_and(same) {
        return format!("{GRAPH_RESOURCE}/.default");
    }
    format!("{origin}/.default")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(url: &str, host: &str) -> String {
        scope_for_url(&Url::parse(url).unwrap(), host, None)
    }

    #[test]
    fn scopes_follow_the_url() {
        let public = "https://login.microsoftonline.com";
        assert_eq!(
            scope("https://graph.microsoft.com/v1.0/users", public),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            scope(
                "https://graph.microsoft.us/v1.0/users",
                "https://login.microsoftonline.us"
            ),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(
            scope(
                "https://microsoftgraph.chinacloudapi.cn/v1.0/users?$top=1",
                public
            ),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        // certgen serve: Graph on the authority's own listener.
        assert_eq!(
            scope(
                "https://127.0.0.1:8443/v1.0/users",
                "https://127.0.0.1:8443"
            ),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            scope("https://api.contoso.example:8080/orders/1", public),
            "https://api.contoso.example:8080/.default"
        );
        assert_eq!(
            scope_for_url(
                &Url::parse("https://graph-proxy.example/v1.0/me").unwrap(),
                public,
                Some("https://graph-proxy.example/")
            ),
            "https://graph.microsoft.com/.default"
        );
    }

    #[test]
    fn graph_follows_the_cloud() {
        assert_eq!(
            graph_host("https://login.chinacloudapi.cn"),
            "https://microsoftgraph.chinacloudapi.cn"
        );
        assert_eq!(
            graph_host("https://login.microsoftonline.com/"),
            "https://graph.microsoft.com"
        );
        assert_eq!(graph_host("https://127.0.0.1:9"), "https://127.0.0.1:9");
    }
}
