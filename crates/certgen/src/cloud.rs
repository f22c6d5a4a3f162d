//! The Microsoft clouds by their host names: which hosts are Entra's (identity), Microsoft
//! Graph's, Azure Resource Manager's and the Entra portal's API, in each cloud, and the names
//! Entra publishes there (issuers, instance discovery aliases). One table, read by the emulator's proxy (which hosts it may answer
//! for), its SNI certificate choice, the "which face" decision of each request, and instance
//! discovery.

/// One national cloud.
#[derive(Debug, PartialEq, Eq)]
pub struct Cloud {
    /// The Azure SDKs' name for it.
    pub name: &'static str,
    /// Entra's hosts in this cloud; the first is instance discovery's `preferred_network`.
    pub identity_hosts: &'static [&'static str],
    /// Instance discovery's `preferred_cache`.
    pub preferred_cache: &'static str,
    /// `iss` of v2 tokens and documents: `https://{host}/{tid}/v2.0`, whichever alias was asked.
    pub issuer_v2_host: &'static str,
    /// `iss` of v1 tokens and documents: `https://{host}/{tid}/`.
    pub issuer_v1_host: &'static str,
    /// Microsoft Graph's hosts in this cloud; the first is the discovery documents' `msgraph_host`.
    pub graph_hosts: &'static [&'static str],
    /// Azure Resource Manager's host (`az login` lists subscriptions and tenants there).
    pub resource_manager_hosts: &'static [&'static str],
    /// The Entra portal's own API, where `az ad app permission admin-consent` posts.
    pub portal_api_hosts: &'static [&'static str],
    /// Discovery documents' `cloud_instance_name`.
    pub cloud_instance_name: &'static str,
    /// Discovery documents' `cloud_graph_host_name` (the retired Azure AD Graph).
    pub cloud_graph_host_name: &'static str,
}

/// Every host the emulator's proxy impersonates. The identity hosts are the aliases of
/// Entra's own instance-discovery answer (<https://learn.microsoft.com/en-us/entra/identity-platform/authentication-national-cloud>), in its order.
///
/// UNCONFIRMED: the US Government v1 issuer (`sts.windows.net`, as in the public cloud) and
/// the China issuers (`login.partner.microsoftonline.cn` for v2, `sts.chinacloudapi.cn` for v1)
/// are taken from Microsoft's national-cloud pages, not from a live document. The retired
/// Germany cloud and the `login-us.microsoftonline.com` alias of instance discovery's answer
/// are left out: no current SDK defaults to them.
///
/// Resource Manager's hosts are the Azure CLI's `resource_manager` endpoints
/// (<https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/control-plane-and-data-plane>;
/// `azure/cli/core/cloud.py`). The portal API is the host `az ad app permission admin-consent`
/// posts to (`azure/cli/command_modules/role/custom.py`); the CLI refuses that command on the
/// national clouds, so they have none.
pub const CLOUDS: &[Cloud] = &[
    Cloud {
        name: "AzurePublicCloud",
        identity_hosts: &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
        preferred_cache: "login.windows.net",
        issuer_v2_host: "login.microsoftonline.com",
        issuer_v1_host: "sts.windows.net",
        graph_hosts: &["graph.microsoft.com"],
        resource_manager_hosts: &["management.azure.com"],
        portal_api_hosts: &["main.iam.ad.ext.azure.com"],
        cloud_instance_name: "microsoftonline.com",
        cloud_graph_host_name: "graph.windows.net",
    },
    Cloud {
        name: "AzureChinaCloud",
        identity_hosts: &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
        preferred_cache: "login.partner.microsoftonline.cn",
        issuer_v2_host: "login.partner.microsoftonline.cn",
        issuer_v1_host: "sts.chinacloudapi.cn",
        graph_hosts: &["microsoftgraph.chinacloudapi.cn"],
        resource_manager_hosts: &["management.chinacloudapi.cn"],
        portal_api_hosts: &[],
        cloud_instance_name: "partner.microsoftonline.cn",
        cloud_graph_host_name: "graph.chinacloudapi.cn",
    },
    Cloud {
        name: "AzureUSGovernment",
        identity_hosts: &["login.microsoftonline.us", "login.usgovcloudapi.net"],
        preferred_cache: "login.microsoftonline.us",
        issuer_v2_host: "login.microsoftonline.us",
        issuer_v1_host: "sts.windows.net",
        graph_hosts: &["graph.microsoft.us", "dod-graph.microsoft.us"],
        resource_manager_hosts: &["management.usgovcloudapi.net"],
        portal_api_hosts: &[],
        cloud_instance_name: "microsoftonline.us",
        cloud_graph_host_name: "graph.windows.net",
    },
];

/// What a Microsoft host is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Entra ID: tokens, discovery, keys.
    Identity,
    /// Microsoft Graph.
    Graph,
    /// Azure Resource Manager.
    ResourceManager,
    /// The Entra portal's API (admin consent).
    PortalApi,
}

impl Service {
    /// Every service, in the order [`all_hosts`] lists their hosts.
    pub const ALL: [Service; 4] = [
        Service::Identity,
        Service::Graph,
        Service::ResourceManager,
        Service::PortalApi,
    ];

    /// This service's hosts in `cloud`.
    pub fn hosts(self, cloud: &'static Cloud) -> &'static [&'static str] {
        match self {
            Service::Identity => cloud.identity_hosts,
            Service::Graph => cloud.graph_hosts,
            Service::ResourceManager => cloud.resource_manager_hosts,
            Service::PortalApi => cloud.portal_api_hosts,
        }
    }
}

/// A Microsoft host of [`CLOUDS`], as the table spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// The host name.
    pub name: &'static str,
    /// Which service it serves.
    pub service: Service,
    /// The cloud it belongs to.
    pub cloud: &'static Cloud,
}

/// The Microsoft host a name (DNS name, `host:port`, any case, a trailing dot) stands for;
/// `None` for every other name. A port, when given, must be 443: `login.microsoftonline.com:8443`
/// is not Entra.
pub fn host(name: &str) -> Option<Host> {
    let name = match name.rsplit_once(':') {
        Some((h, "443")) => h,
        Some(_) => return None,
        None => name,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    CLOUDS.iter().find_map(|cloud| {
        Service::ALL.iter().find_map(|&service| {
            service
                .hosts(cloud)
                .iter()
                .find(|h| h.eq_ignore_ascii_case(name))
                .map(|h| Host {
                    name: h,
                    service,
                    cloud,
                })
        })
    })
}

/// Every host of the table, by service (identity hosts first), then by cloud.
pub fn all_hosts() -> impl Iterator<Item = Host> {
    Service::ALL.into_iter().flat_map(|service| {
        CLOUDS.iter().flat_map(move |cloud| {
            service.hosts(cloud).iter().map(move |name| Host {
                name,
                service,
                cloud,
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_by_any_spelling() {
        let h = host("Login.MicrosoftOnline.com").unwrap();
        assert_eq!(h.name, "login.microsoftonline.com");
        assert_eq!(h.service, Service::Identity);
        assert_eq!(h.cloud.issuer_v1_host, "sts.windows.net");
        assert_eq!(
            host("sts.windows.net.:443").unwrap().name,
            "sts.windows.net"
        );
        let g = host("graph.microsoft.us").unwrap();
        assert_eq!(
            (g.service, g.cloud.name),
            (Service::Graph, "AzureUSGovernment")
        );
        assert_eq!(
            host("login.chinacloudapi.cn").unwrap().cloud.name,
            "AzureChinaCloud"
        );
        assert_eq!(
            host("management.azure.com:443").unwrap().service,
            Service::ResourceManager
        );
        assert_eq!(
            host("MAIN.iam.ad.ext.azure.com").unwrap().service,
            Service::PortalApi
        );
        for other in [
            "login.microsoftonline.com:8443",
            "example.com",
            "microsoftonline.com",
            "evil-login.microsoftonline.com",
            "127.0.0.1:8443",
            "",
        ] {
            assert_eq!(host(other), None, "{other}");
        }
    }

    #[test]
    fn every_host_listed_once() {
        let names: Vec<&str> = all_hosts().map(|h| h.name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
        assert!(names.contains(&"graph.microsoft.com"));
        assert!(names.contains(&"management.azure.com"));
        assert!(names.iter().all(|n| host(n).is_some()));
    }
}
