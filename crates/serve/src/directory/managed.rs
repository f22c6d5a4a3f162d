//! A managed identity as the platform endpoints read it: a service principal of type
//! `ManagedIdentity` found by what a request selects (client id, principal id, Azure resource
//! id, or nothing), with the roles assigned to it now — so a Graph write that grants or revokes
//! one is in the next token. Built once per change and shared, like the apps' views.

use std::sync::Arc;

use super::objects::str_of;
use super::store::{Kind, Object};
use super::{lock, view, Directory, StoreResult, MAX_VIEWS};
use crate::config::App;

/// Which identity a token request asks for (the platform endpoints' selectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// None named: the system-assigned identity.
    Default,
    ClientId(String),
    /// The principal (object) id.
    ObjectId(String),
    /// The Azure resource id.
    ResourceId(String),
}

impl Selector {
    fn key(&self) -> String {
        match self {
            Selector::Default => "default".into(),
            Selector::ClientId(v) => format!("client {}", v.to_lowercase()),
            Selector::ObjectId(v) => format!("object {}", v.to_lowercase()),
            Selector::ResourceId(v) => format!("resource {}", v.to_lowercase()),
        }
    }
}

/// A managed identity: its token-path app (no credential) and tenant.
#[derive(Debug)]
pub struct ManagedView {
    pub app: App,
    pub tenant_id: String,
}

fn is_managed(sp: &Object) -> bool {
    str_of(&sp.doc, "servicePrincipalType") == "ManagedIdentity"
}

impl Directory {
    /// The managed identity `selector` names, if any.
    pub fn managed_identity(&self, selector: &Selector) -> StoreResult<Option<Arc<ManagedView>>> {
        self.fresh()?;
        let key = selector.key();
        if let Some(v) = lock(&self.views).managed.get(&key) {
            return Ok(v.clone());
        }
        let sp = match selector {
            Selector::ClientId(id) => self.find(Kind::ServicePrincipal, "appId", id)?,
            Selector::ObjectId(id) => self.get(Kind::ServicePrincipal, id)?.into_iter().collect(),
            Selector::ResourceId(id) => self.find(Kind::ServicePrincipal, "alternativeName", id)?,
            Selector::Default => self.default_identity()?.into_iter().collect(),
        }
        .into_iter()
        .find(is_managed);
        let built = match sp {
            None => None,
            Some(sp) => {
                let held = self
                    .store
                    .find(Kind::AppRoleAssignment, "principalId", &sp.id)?;
                let mut assignments = Vec::new();
                for a in &held {
                    let resource = str_of(&a.doc, "resourceId").to_ascii_lowercase();
                    if let Some(r) = self.store.get(Kind::ServicePrincipal, &resource)? {
                        assignments.push((a, r));
                    }
                }
                let (app, tenant_id) = view::managed_identity(&sp, &assignments);
                Some(Arc::new(ManagedView { app, tenant_id }))
            }
        };
        let mut views = lock(&self.views);
        if views.managed.len() >= MAX_VIEWS {
            views.managed.clear();
        }
        views.managed.insert(key, built.clone());
        Ok(built)
    }

    /// The identity a request that names none gets: the system-assigned one, as on a VM or an
    /// App Service app (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>);
    /// with none, a lone user-assigned one. UNCONFIRMED: IMDS's answer for a VM with only one
    /// user-assigned identity and no selector (chosen: that identity, as the Azure SDKs'
    /// users report); with several, none ("Identity not found").
    fn default_identity(&self) -> StoreResult<Option<Object>> {
        let all: Vec<Object> = self
            .find(
                Kind::ServicePrincipal,
                "servicePrincipalType",
                "ManagedIdentity",
            )?
            .into_iter()
            .filter(is_managed)
            .collect();
        let system = |o: &&Object| {
            o.internal.get("managedIdentity").and_then(|v| v.as_str()) == Some("system")
        };
        if let Some(s) = all.iter().find(system) {
            return Ok(Some(s.clone()));
        }
        Ok(match all.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
    }
}
