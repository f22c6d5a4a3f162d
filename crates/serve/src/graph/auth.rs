//! The bearer check of the Graph slice, done as a protected API does it (<https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>) with
//! [`certgen::verify::Validator`] over the service's own key set, in-process: no HTTP round trip
//! to itself. Only tokens this service issued for Graph pass: v1 shape (issuer
//! `{base}/{tid}/`, as Graph's tokens are), `aud` Graph's URI or app id.

use super::error::GraphError;
use crate::face::issuer_v1;
use crate::metadata;
use crate::service::TokenService;
use certgen::graph::cloud::{GRAPH_APP_ID, GRAPH_RESOURCE};
use certgen::graph::permissions::{allows, WRITE_APPLICATIONS};
use certgen::jose::strip_bearer;
use certgen::verify::{KeySet, ValidToken, Validator, ValidatorOptions, VerifyError};

/// The audiences Graph accepts: its URI (with or without the trailing slash a v1 `resource=`
/// may carry) and its app id.
const GRAPH_AUDIENCES: [&str; 3] = [GRAPH_RESOURCE, "https://graph.microsoft.com/", GRAPH_APP_ID];

/// The app-only caller a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `appid`: the calling app's client id.
    pub app_id: String,
    pub tenant_id: String,
    /// The permissions on Graph the token carries: `roles` (application permissions) for an
    /// app-only token, `scp` (delegated) for a user's.
    pub roles: Vec<String>,
    /// `idtyp` = `app`: no signed-in user (what `/me` needs).
    pub app_only: bool,
    /// The signed-in user's object id (`oid` of a delegated token).
    pub user_id: Option<String>,
}

impl Caller {
    pub fn roles(&self) -> Vec<&str> {
        self.roles.iter().map(String::as_str).collect()
    }

    /// What every write to an application object asks of the caller (the application itself,
    /// its passwords, its federated credentials): `Application.ReadWrite.All` or a permission
    /// that includes it.
    pub fn require_application_write(&self) -> Result<(), GraphError> {
        if allows(&self.roles(), WRITE_APPLICATIONS) {
            Ok(())
        } else {
            Err(GraphError::insufficient_privileges())
        }
    }
}

/// One validator per tenant issuer: `verify` checks one exact issuer, and each tenant has its
/// own (`{base}/{tid}/`).
pub struct GraphAuth {
    validators: Vec<(String, Validator)>,
}

impl GraphAuth {
    /// Issuers of every face the service answers by: its own address, and each cloud's v1
    /// issuer host (tokens issued through `--proxy` carry `https://sts.windows.net/{tid}/`).
    ///
    /// UNCONFIRMED design note: validators are made for the tenants known at start; a tenant
    /// made later (none can be through Graph) would need a restart.
    pub fn new(service: &TokenService) -> GraphAuth {
        GraphAuth::for_audiences(service, &GRAPH_AUDIENCES)
    }

    /// The same check for another of Microsoft's resources (Resource Manager's): only tokens
    /// this service issued, v1, for one of `audiences`.
    pub fn for_audiences(service: &TokenService, audiences: &[&str]) -> GraphAuth {
        let mut bases = vec![service.base.clone()];
        bases.extend(
            certgen::cloud::CLOUDS
                .iter()
                .map(|c| format!("https://{}", c.issuer_v1_host)),
        );
        let tenants = service.directory.tenants().unwrap_or_default();
        let validators = bases
            .iter()
            .flat_map(|b| tenants.iter().map(move |t| (b, t)))
            .filter_map(|(base, t)| {
                let issuer = issuer_v1(base, &t.id);
                let jwks = metadata::jwks(&service.signer, &issuer).to_string();
                // The document is this service's own; a parse failure would leave the tenant
                // with no validator, and its tokens are then refused, never accepted.
                let keys = KeySet::from_json(jwks.as_bytes(), "the service's key set").ok()?;
                let options =
                    ValidatorOptions::new(audiences.iter().copied()).issuer(issuer.clone());
                Some((issuer, Validator::from_key_set(keys, options)))
            })
            .collect();
        GraphAuth { validators }
    }

    /// Checks the `Authorization` header.
    pub async fn check(&self, authorization: Option<&str>) -> Result<Caller, GraphError> {
        let token = authorization.map(strip_bearer).unwrap_or_default();
        if token.is_empty() {
            return Err(GraphError::invalid_token("Access token is empty."));
        }
        let valid = self
            .validate(token)
            .await
            .map_err(|e| GraphError::invalid_token(message(&e)))?;
        let text = |name: &str| valid.claim_str(name).unwrap_or_default().to_string();
        // Delegated tokens carry `scp`; app-only ones do not (and say `idtyp` = `app`).
        let scp = valid.claim_str("scp").map(str::to_string);
        Ok(Caller {
            app_id: valid.client_id().unwrap_or_default().to_string(),
            tenant_id: text("tid"),
            roles: match &scp {
                Some(s) => s.split_whitespace().map(str::to_string).collect(),
                None => valid.roles().into_iter().map(str::to_string).collect(),
            },
            app_only: scp.is_none(),
            user_id: scp.is_some().then(|| text("oid")),
        })
    }
}

impl GraphAuth {
    /// Validates a bearer token (not empty) against the issuer of its tenant.
    pub async fn validate(&self, token: &str) -> Result<ValidToken, VerifyError> {
        let Some((_, first)) = self.validators.first() else {
            return Err(VerifyError::Malformed("no tenant is registered".into()));
        };
        let mut result = first.validate(token).await;
        // A token of another registered tenant: check it against that tenant's issuer.
        if let Err(VerifyError::OtherTenant { found, .. } | VerifyError::Issuer { found, .. }) =
            &result
        {
            if let Some((_, v)) = self.validators.iter().find(|(i, _)| i == found) {
                result = v.validate(token).await;
            }
        }
        result
    }
}

/// Graph's words for a token it refuses (<https://learn.microsoft.com/en-us/graph/errors>). The issuer, signature, key and
/// not-yet-valid texts are UNCONFIRMED: the reference records only the four below, so the
/// others follow the "Access token validation failure." stem of the audience case.
fn message(e: &VerifyError) -> String {
    match e {
        VerifyError::Malformed(_) | VerifyError::Encrypted => {
            "CompactToken parsing failed with error code: 80049217".into()
        }
        VerifyError::Audience { .. } => "Access token validation failure. Invalid audience.".into(),
        VerifyError::Expired { .. } => "Lifetime validation failed, the token is expired.".into(),
        VerifyError::NotYetValid { .. } => {
            "Lifetime validation failed, the token is not yet valid.".into()
        }
        VerifyError::Issuer { .. } | VerifyError::OtherTenant { .. } => {
            "Access token validation failure. Invalid issuer.".into()
        }
        _ => "Access token validation failure.".into(),
    }
}
