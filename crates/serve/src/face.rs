//! Which face a request meets. Reached by its own address (`127.0.0.1:8443`), the service
//! names itself by that address; reached by a Microsoft host name — through `--proxy` or an
//! SNI route, with that name in `Host` — it answers as Entra (or Graph) does there: issuers,
//! endpoints and discovery on the real host names, so an API that validates against the real
//! issuer accepts its tokens.
//!
//! [`Face::of`] is the one place that decides; identity and Graph handlers both ask it.

use std::borrow::Cow;

use axum::http::{header, HeaderMap, Uri};

use certgen::cloud::{self, Cloud, Service};

/// How the request reached the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// By the service's own address: names as before proxy mode existed.
    Direct,
    /// By a Microsoft host name of [`cloud::CLOUDS`].
    Microsoft(cloud::Host),
}

impl Face {
    /// From the request's authority (absolute-form target, else the `Host` header). A name
    /// outside the cloud table (the service's own address, anything else) is [`Face::Direct`].
    pub fn of(uri: &Uri, headers: &HeaderMap) -> Face {
        let authority = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
        match authority.and_then(cloud::host) {
            Some(h) => Face::Microsoft(h),
            None => Face::Direct,
        }
    }

    /// The bases an assertion's `aud` may name: reached directly, the service's own
    /// (`direct`); reached as Entra, every alias of that cloud's Entra, as the real one takes.
    pub fn audience_bases<'a>(&self, direct: &'a [String]) -> Cow<'a, [String]> {
        match self {
            Face::Direct => Cow::Borrowed(direct),
            Face::Microsoft(h) => h
                .cloud
                .identity_hosts
                .iter()
                .map(|host| format!("https://{host}"))
                .collect(),
        }
    }

    /// The names this face answers with; `direct_base` is the service's own `https://host:port`.
    pub fn names(&self, direct_base: &str) -> Names {
        match self {
            Face::Direct => Names {
                base: direct_base.to_string(),
                issuer_v2_base: direct_base.to_string(),
                issuer_v1_base: direct_base.to_string(),
                cloud: None,
            },
            Face::Microsoft(h) => Names {
                // Another service's host asked for identity documents is answered as its
                // cloud's Entra.
                base: format!(
                    "https://{}",
                    match h.service {
                        Service::Identity => h.name,
                        Service::Graph | Service::ResourceManager | Service::PortalApi => {
                            h.cloud.identity_hosts[0]
                        }
                    }
                ),
                issuer_v2_base: format!("https://{}", h.cloud.issuer_v2_host),
                issuer_v1_base: format!("https://{}", h.cloud.issuer_v1_host),
                cloud: Some(h.cloud),
            },
        }
    }
}

/// The URLs a face answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Endpoints' base: `https://login.microsoftonline.com` or the service's own address.
    ///
    /// UNCONFIRMED: Entra's documents, fetched through an alias (`login.windows.net`), are taken
    /// to name endpoints on that alias; issuers are the cloud's canonical names regardless.
    pub base: String,
    issuer_v2_base: String,
    issuer_v1_base: String,
    /// The cloud whose names these are; `None` when reached directly.
    pub cloud: Option<&'static Cloud>,
}

impl Names {
    /// Discovery documents' `msgraph_host`: the cloud's Graph when reached as Entra, the
    /// service's own `host:port` (where its Graph slice answers) when reached directly.
    pub fn msgraph_host(&self) -> &str {
        match self.cloud {
            Some(cloud) => cloud.graph_hosts[0],
            None => self
                .base
                .split_once("://")
                .map_or(self.base.as_str(), |(_, host)| host),
        }
    }

    /// `iss` of v2 tokens and documents.
    pub fn issuer_v2(&self, tid: &str) -> String {
        issuer_v2(&self.issuer_v2_base, tid)
    }

    /// `iss` of v1 tokens and documents.
    pub fn issuer_v1(&self, tid: &str) -> String {
        issuer_v1(&self.issuer_v1_base, tid)
    }
}

/// `iss` of v2 tokens and documents issued under `base` (a face's issuer host, or the
/// service's own address).
pub fn issuer_v2(base: &str, tid: &str) -> String {
    format!("{base}/{tid}/v2.0")
}

/// `iss` of v1 tokens and documents (with its trailing slash, as Entra's v1 issuer has it).
pub fn issuer_v1(base: &str, tid: &str) -> String {
    format!("{base}/{tid}/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn face(host: &str) -> Face {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        Face::of(&Uri::from_static("/t/oauth2/v2.0/token"), &h)
    }

    #[test]
    fn direct_keeps_the_service_names() {
        let n = face("127.0.0.1:8443").names("https://127.0.0.1:8443");
        assert_eq!(n.base, "https://127.0.0.1:8443");
        assert_eq!(n.msgraph_host(), "127.0.0.1:8443");
        assert_eq!(n.issuer_v2("tid"), "https://127.0.0.1:8443/tid/v2.0");
        assert_eq!(n.issuer_v1("tid"), "https://127.0.0.1:8443/tid/");
        assert_eq!(
            Face::of(&Uri::from_static("/x"), &HeaderMap::new()),
            Face::Direct
        );
    }

    #[test]
    fn microsoft_names_are_entras() {
        for host in ["login.microsoftonline.com", "login.windows.net:443"] {
            let n = face(host).names("https://127.0.0.1:8443");
            assert_eq!(
                n.issuer_v2("tid"),
                "https://login.microsoftonline.com/tid/v2.0"
            );
            assert_eq!(n.issuer_v1("tid"), "https://sts.windows.net/tid/");
        }
        assert_eq!(
            face("login.windows.net").names("x").base,
            "https://login.windows.net"
        );
        assert_eq!(
            face("login.microsoftonline.com").names("x").msgraph_host(),
            "graph.microsoft.com"
        );
        let g = face("graph.microsoft.com");
        assert!(matches!(g, Face::Microsoft(h) if h.service == Service::Graph));
        assert_eq!(g.names("x").base, "https://login.microsoftonline.com");
        let us = face("login.microsoftonline.us").names("x");
        assert_eq!(us.issuer_v2("t"), "https://login.microsoftonline.us/t/v2.0");
        // Another port on a Microsoft name is not Microsoft's.
        assert_eq!(face("login.microsoftonline.com:8443"), Face::Direct);
    }
}
