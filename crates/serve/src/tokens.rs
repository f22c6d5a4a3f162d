//! Access tokens: the v2 and v1 shapes of <https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>, signed RS256 by the
//! service's own key, and the token-endpoint responses that carry them.

use serde_json::{json, Map, Value};

use super::aadsts::Aadsts;
use super::config::{App, Resource, Tenant, TokenVersion, User};
use super::directory::membership::UserClaims;
use super::face::Names;
use certgen::certificate::Certificate;
use certgen::error::{Error, Result};
use certgen::jose::{self, b64, Alg};
use certgen::key::PrivateKey;

/// Lifetime of every access token. Entra randomises 60–90 minutes (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>); a fixed
/// hour keeps tests deterministic, and `expires_in` = 3599 is what Entra's own example shows.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
pub const EXPIRES_IN: i64 = TOKEN_LIFETIME_SECS - 1;

/// The service's token-signing key (parsed once, see [`jose::SigningKey`]) and the certificate
/// published for it in the JWKS.
#[derive(Debug)]
pub struct SigningKey {
    key: jose::SigningKey,
    pub certificate: Certificate,
    /// `kid` (and v1 `x5t`): the certificate's x5t, as Entra's keys are named.
    pub kid: String,
    /// The JOSE headers every token of this key carries, encoded once (base64url): v2 access
    /// tokens and id_tokens `{"typ","alg","kid"}`, v1 access tokens with `x5t` as well.
    header_v2: String,
    header_v1: String,
}

impl SigningKey {
    pub fn new(certificate: Certificate, key: &PrivateKey) -> Result<Self> {
        let pkcs1 = key
            .rsa_pkcs1_der()
            .ok_or_else(|| Error::failure("the token-signing key is not an RSA key"))?;
        if !key.matches(&certificate.key) {
            return Err(Error::failure(
                "the token-signing key does not match its certificate",
            ));
        }
        let key = jose::SigningKey::from_pkcs1_der(pkcs1)
            .map_err(|e| Error::failure(format!("the token-signing key is unusable ({e})")))?;
        let kid = certificate.thumbprints.x5t();
        let header = |x5t: bool| {
            let mut h = Map::new();
            h.insert("typ".into(), json!("JWT"));
            h.insert("alg".into(), json!("RS256"));
            if x5t {
                // v1 headers carry x5t as well, with the same value as kid (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference).
                h.insert("x5t".into(), json!(kid));
            }
            h.insert("kid".into(), json!(kid));
            b64::encode(Value::Object(h).to_string())
        };
        Ok(SigningKey {
            key,
            header_v2: header(false),
            header_v1: header(true),
            kid,
            certificate,
        })
    }

    /// The RS256 compact JWS of `claims` under the header of `version`.
    pub(crate) fn sign(
        &self,
        version: TokenVersion,
        claims: Map<String, Value>,
    ) -> Result<String, Aadsts> {
        let header = match version {
            TokenVersion::V2 => &self.header_v2,
            TokenVersion::V1 => &self.header_v1,
        };
        self.key
            .sign_compact_encoded(Alg::Rs256, header, &Value::Object(claims))
            .map_err(|_| Aadsts::ServerError("signing failed".into()))
    }
}

/// How the client proved itself: `azpacr`/`appidacr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client: no credential (`0`).
    Public,
    Secret,
    Certificate,
    /// An outside token through a federated identity credential. Entra's tokens show it as a
    /// certificate does (`2`, "client certificate or assertion":
    /// <https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>);
    /// UNCONFIRMED that a federated assertion gives exactly `2` — no capture compared.
    Federated,
}

impl ClientAuth {
    fn acr(self) -> &'static str {
        match self {
            ClientAuth::Public => "0",
            ClientAuth::Secret => "1",
            ClientAuth::Certificate | ClientAuth::Federated => "2",
        }
    }
}

/// Which endpoint was asked: the response shapes differ (v1 has string numbers and `resource`).
pub use certgen::verify::TokenVersion as Endpoint;

/// One granted token request.
pub struct Grant<'a> {
    pub tenant: &'a Tenant,
    pub app: &'a App,
    pub resource: &'a Resource,
    /// The resource as the client named it (v1 `aud` echoes it: App ID URI or GUID).
    pub requested_as: &'a str,
    pub auth: ClientAuth,
    /// The names of the face the client reached: issuers come from it.
    pub names: &'a Names,
    pub now: i64,
    /// A signed-in user's token (user flows); `None` for an app-only one.
    pub delegated: Option<Delegated<'a>>,
}

/// What a delegated token adds: who signed in and the scopes granted on the resource.
#[derive(Clone, Copy)]
pub struct Delegated<'a> {
    pub user: &'a User,
    /// `scp`: the resource's scope names, space-separated (`User.Read Mail.Read`).
    pub scp: &'a str,
    /// `groups` and `roles` by the resource's settings and assignments.
    pub claims: &'a UserClaims,
}

/// The signed access token for a grant.
pub fn access_token(signer: &SigningKey, g: &Grant) -> Result<String, Aadsts> {
    let tid = &g.tenant.id;
    let exp = g.now + TOKEN_LIFETIME_SECS;
    let mut c = Map::new();
    match g.resource.token_version {
        TokenVersion::V2 => {
            c.insert("aud".into(), json!(g.resource.app_id));
            c.insert("iss".into(), json!(g.names.issuer_v2(tid)));
        }
        TokenVersion::V1 => {
            let iss = g.names.issuer_v1(tid);
            c.insert("aud".into(), json!(g.requested_as));
            c.insert("iss".into(), json!(iss));
            c.insert("idp".into(), json!(iss));
        }
    }
    c.insert("iat".into(), json!(g.now));
    c.insert("nbf".into(), json!(g.now));
    c.insert("exp".into(), json!(exp));
    match g.resource.token_version {
        TokenVersion::V2 => {
            c.insert("azp".into(), json!(g.app.client_id));
            c.insert("azpacr".into(), json!(g.auth.acr()));
        }
        TokenVersion::V1 => {
            c.insert("appid".into(), json!(g.app.client_id));
            c.insert("appidacr".into(), json!(g.auth.acr()));
        }
    }
    match g.delegated {
        None => {
            c.insert("idtyp".into(), json!("app"));
            c.insert("oid".into(), json!(g.app.object_id));
            if let Some(roles) = g.app.roles.get(&g.resource.app_id) {
                if !roles.is_empty() {
                    c.insert("roles".into(), json!(roles));
                }
            }
            c.insert("sub".into(), json!(g.app.object_id));
        }
        Some(d) => user_claims(&mut c, g, d),
    }
    c.insert("tid".into(), json!(tid));
    c.insert("uti".into(), json!(unique_token_id()));
    c.insert(
        "ver".into(),
        json!(match g.resource.token_version {
            TokenVersion::V2 => "2.0",
            TokenVersion::V1 => "1.0",
        }),
    );
    if let (None, Some(mirid)) = (g.delegated, &g.app.managed_identity) {
        // A managed identity's tokens name its Azure resource in `xms_mirid`, as Entra's do
        // (UNCONFIRMED as documented: seen in live tokens and the Azure SDKs' test data).
        c.insert("xms_mirid".into(), json!(mirid));
    }
    signer.sign(g.resource.token_version, c)
}

/// A signed-in user's claims in an access token (<https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>):
/// v2 names the user by `preferred_username`; v1 (Graph's tokens) by `upn` and `unique_name`.
fn user_claims(c: &mut Map<String, Value>, g: &Grant, d: Delegated) {
    let u = d.user;
    if g.resource.token_version == TokenVersion::V1 {
        c.insert("acr".into(), json!("1"));
        c.insert("amr".into(), json!(["pwd"]));
        if let Some(f) = &u.surname {
            c.insert("family_name".into(), json!(f));
        }
        if let Some(gn) = &u.given_name {
            c.insert("given_name".into(), json!(gn));
        }
    }
    c.insert("idtyp".into(), json!("user"));
    c.insert("name".into(), json!(display_name(u)));
    group_claims(c, d.claims, &u.id);
    c.insert("oid".into(), json!(u.id));
    if g.resource.token_version == TokenVersion::V2 {
        c.insert("preferred_username".into(), json!(u.user_principal_name));
    }
    c.insert("scp".into(), json!(d.scp));
    c.insert("sub".into(), json!(pairwise_sub(u, g.app)));
    if g.resource.token_version == TokenVersion::V1 {
        c.insert("unique_name".into(), json!(u.user_principal_name));
        c.insert("upn".into(), json!(u.user_principal_name));
    }
}

/// The most group ids a JWT carries; past it Entra sends the overage claims instead
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference#groups-overage-claim>).
pub const MAX_GROUPS_IN_TOKEN: usize = 200;

/// `groups` (or, past [`MAX_GROUPS_IN_TOKEN`], `_claim_names`/`_claim_sources` pointing at
/// Graph's `getMemberObjects` for the user) and `roles` of a user's token.
fn group_claims(c: &mut Map<String, Value>, claims: &UserClaims, user_id: &str) {
    match &claims.groups {
        Some(ids) if ids.len() > MAX_GROUPS_IN_TOKEN => {
            c.insert("_claim_names".into(), json!({"groups": "src1"}));
            c.insert(
                "_claim_sources".into(),
                json!({"src1": {"endpoint": format!(
                    "https://graph.microsoft.com/v1.0/users/{user_id}/getMemberObjects"
                )}}),
            );
        }
        // A user in none of the groups asked for gets no claim, not an empty one.
        Some(ids) if !ids.is_empty() => {
            c.insert("groups".into(), json!(ids));
        }
        _ => {}
    }
    if !claims.roles.is_empty() {
        c.insert("roles".into(), json!(claims.roles));
    }
}

/// A user's `name`: the display name, or the UPN when the config gives none.
pub fn display_name(u: &User) -> &str {
    u.display_name.as_deref().unwrap_or(&u.user_principal_name)
}

/// `sub` of a user token: pairwise, "unique to a particular user and application"
/// (id-token-claims-reference), so the same user has another `sub` in another app. Stable
/// across runs: a hash of both ids, in Entra's 43-character base64url form.
fn pairwise_sub(u: &User, app: &App) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}|{}", u.id, app.client_id).as_bytes());
    b64::encode(digest)
}

/// What an id_token says beyond the grant: the OpenID scopes asked and the `nonce`.
pub struct IdTokenFacts<'a> {
    /// `profile` was asked: `name`, `preferred_username`, `oid`.
    pub profile: bool,
    /// `email` was asked: `email` when the user has a mail address.
    pub email: bool,
    /// Echoed verbatim: MSAL compares it with the SHA-256 hex it sent.
    pub nonce: Option<&'a str>,
    /// `groups` and `roles` by the client app's settings and assignments.
    pub claims: &'a UserClaims,
}

/// A v2 id_token for the signed-in user of `g` (id-token-claims-reference): `aud` is the
/// client, `iss` the v2 issuer whatever the resource's token version, no `x5t` in the header.
pub fn id_token(
    signer: &SigningKey,
    g: &Grant,
    user: &User,
    facts: &IdTokenFacts,
) -> Result<String, Aadsts> {
    let tid = &g.tenant.id;
    let mut c = Map::new();
    c.insert("aud".into(), json!(g.app.client_id));
    c.insert("iss".into(), json!(g.names.issuer_v2(tid)));
    c.insert("iat".into(), json!(g.now));
    c.insert("nbf".into(), json!(g.now));
    c.insert("exp".into(), json!(g.now + TOKEN_LIFETIME_SECS));
    if facts.email {
        if let Some(mail) = &user.mail {
            c.insert("email".into(), json!(mail));
        }
    }
    if facts.profile {
        c.insert("name".into(), json!(display_name(user)));
    }
    group_claims(&mut c, facts.claims, &user.id);
    if let Some(nonce) = facts.nonce {
        c.insert("nonce".into(), json!(nonce));
    }
    if facts.profile {
        c.insert("oid".into(), json!(user.id));
        c.insert("preferred_username".into(), json!(user.user_principal_name));
    }
    c.insert("sub".into(), json!(pairwise_sub(user, g.app)));
    c.insert("tid".into(), json!(tid));
    c.insert("uti".into(), json!(unique_token_id()));
    c.insert("ver".into(), json!("2.0"));
    // No `x5t` in an id_token's header, whatever the resource's token version.
    signer.sign(TokenVersion::V2, c)
}

/// `client_info`: base64url JSON `{"uid", "utid"}`, from which MSAL builds the account's
/// `home_account_id` (`uid.utid`).
pub fn client_info(user: &User, tenant: &Tenant) -> String {
    b64::encode(json!({"uid": user.id, "utid": tenant.id}).to_string())
}

/// The token endpoint's success body.
pub fn response(endpoint: Endpoint, token: String, g: &Grant) -> Value {
    match endpoint {
        Endpoint::V2 => json!({
            "token_type": "Bearer",
            "expires_in": EXPIRES_IN,
            "ext_expires_in": EXPIRES_IN,
            "access_token": token,
        }),
        // v1 answers with numbers as strings (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
        Endpoint::V1 => json!({
            "token_type": "Bearer",
            "expires_in": EXPIRES_IN.to_string(),
            "ext_expires_in": EXPIRES_IN.to_string(),
            "expires_on": (g.now + TOKEN_LIFETIME_SECS).to_string(),
            "not_before": g.now.to_string(),
            "resource": g.requested_as,
            "access_token": token,
        }),
    }
}

/// `uti`: 16 random bytes, base64url, as Entra's 22-character values.
pub fn unique_token_id() -> String {
    let mut b = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // A uuid v4 is random too; uti need only be unique, not secret.
        b = *uuid::Uuid::new_v4().as_bytes();
    }
    b64::encode(b)
}
