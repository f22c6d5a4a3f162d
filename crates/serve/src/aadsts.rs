//! The catalogue of AADSTS errors the token service returns, and Entra's error body.
//!
//! Every refusal the service makes is one variant of [`Aadsts`]; its code, OAuth `error` value,
//! HTTP status and message text are decided here and nowhere else. Texts follow the live Entra
//! messages quoted in the protocol reference (§3); where the reference marks an `error` value or
//! a code as unknown, the choice made here is flagged `UNCONFIRMED` next to it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;

/// The documentation link Entra puts in 700023/700024 texts.
const CERT_CREDENTIALS_DOC: &str =
    "https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials";

/// One refusal, with what its message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aadsts {
    /// 900144: a required form parameter is missing (or, for `client_assertion_type`, wrong).
    MissingParameter(&'static str),
    /// 70003: a grant type other than `client_credentials`.
    UnsupportedGrantType(String),
    /// 900561: the token endpoints take POST only.
    PostOnly(String),
    /// 90002: no such tenant (token endpoint: `invalid_request`; discovery: `invalid_tenant`).
    TenantNotFound { tenant: String, discovery: bool },
    /// 900023: the tenant segment is neither a GUID nor a DNS name.
    InvalidTenantName(String),
    /// 9001023: client credentials need a tenant-specific authority, not /common.
    TenantlessAuthority(String),
    /// 700016: no application with this client id in the tenant.
    ApplicationNotFound { client_id: String, tenant: String },
    /// 7000218: neither `client_secret` nor `client_assertion` was sent.
    NoCredential,
    /// 90014: both a secret and an assertion were sent. UNCONFIRMED: Entra's code for this case
    /// is not in the reference; RFC 6749 §2.3 forbids more than one method, so refuse it.
    TwoCredentials,
    /// 7000215: wrong client secret.
    InvalidSecret { client_id: String },
    /// 7000222: the secret matches one registered for the app, but that one has expired.
    ExpiredSecret { client_id: String },
    /// 50027: the assertion is malformed, uses an unsupported `alg`, has no thumbprint, or (with
    /// `--strict`) is not in the RFC form or replays a `jti`.
    InvalidJwt(String),
    /// 700027: no registered certificate has the thumbprint the assertion names.
    KeyNotFound {
        thumbprint: String,
        client_id: String,
    },
    /// 700027: the certificate was found but the signature does not verify with it.
    BadSignature {
        thumbprint: String,
        key_start: OffsetDateTime,
        key_end: OffsetDateTime,
    },
    /// 700027: the signature verifies with a registered certificate that is past its
    /// `notAfter`; Entra refuses the key then, whatever the assertion says.
    ExpiredKey {
        thumbprint: String,
        key_start: OffsetDateTime,
        key_end: OffsetDateTime,
    },
    /// 50032: the registered key is weaker than RSA 2048.
    WeakRsaKey { bits: usize },
    /// 5002741: `aud` holds more than one value.
    TooManyAudiences(usize),
    /// 700023: `aud` is not this service's token endpoint for the tenant.
    AudienceMismatch,
    /// 700024: now is outside the assertion's validity window.
    TimeRange {
        now: i64,
        valid_from: i64,
        expires: i64,
    },
    /// 50048: `sub` differs from `iss`.
    SubjectMismatchesIssuer,
    /// 700021: `iss` is not the `client_id` of the request. UNCONFIRMED: not in the reference;
    /// the code is Entra's InvalidClientAssertionApplicationId as seen in live error texts.
    IssuerMismatchesClient { iss: String, client_id: String },
    /// 1002012: a client-credentials scope without `/.default`.
    ScopeNotDefault(String),
    /// 70011: the scope parameter holds nothing usable.
    InvalidScope(String),
    /// 700022: scopes for more than one resource.
    SeveralResources,
    /// 500011: no such resource principal in the tenant.
    ResourceNotFound { resource: String, tenant: String },
    /// 50000: the service could not sign the token (its own fault, never the client's).
    ServerError(String),
    /// 50049: instance discovery for an authority that is not a known cloud (nor this service).
    UnknownInstance(String),
    /// 90055: more requests in flight than `--max-in-flight`; answered at once with 503 and
    /// `Retry-After` instead of queueing. UNCONFIRMED: live Entra throttles client credentials
    /// with 429 and `Retry-After: 60` (MSAL.NET's throttling guide) and no AADSTS code is
    /// recorded for it; 90055 is the TenantThrottlingError of Entra's code list ("too many
    /// incoming requests"). 503 because here the server, not the client, is out of capacity.
    Overloaded { retry_after_secs: u64 },

    // The user flows (graph-and-flows §4.4).
    /// 50011: the redirect URI is not one registered for the app: an error page, never a
    /// redirect (the URI is not trusted).
    RedirectUriMismatch {
        redirect_uri: String,
        client_id: String,
    },
    /// 500112: the redemption's `redirect_uri` is not the one the code was issued for.
    /// UNCONFIRMED: the code is Entra's live one for this case, not in the reference.
    RedirectUriChanged { sent: String, issued: String },
    /// 50148: the `code_verifier` does not match the `code_challenge`.
    PkceMismatch,
    /// 501481: a code issued with a `code_challenge` is redeemed without a `code_verifier`.
    /// UNCONFIRMED: the reference gives 50148 and 501481 the same meaning; the second is used
    /// for the missing verifier so a client can tell the two mistakes apart.
    PkceVerifierMissing,
    /// `code_challenge_method` other than S256 or plain. UNCONFIRMED: the reference lists
    /// 50147 / 501491 / 50149 for "size invalid / invalid method" without pairing them; 50149
    /// is taken for the method.
    PkceMethod(String),
    /// A `code_challenge` of the wrong size (S256: 43 characters; plain: 43–128).
    /// UNCONFIRMED pairing, see [`Aadsts::PkceMethod`]: 501491.
    PkceChallengeSize,
    /// 54005: the code was redeemed already.
    CodeRedeemed,
    /// 70008: the code is past its lifetime.
    CodeExpired,
    /// 70000: a code, refresh token or device code that is not valid here (unknown, or issued
    /// to another client); the detail names which.
    InvalidGrant(String),
    /// 9002313: a refresh token this service never issued.
    MalformedGrant,
    /// 700082: the refresh token was not used within its inactivity lifetime.
    RefreshTokenExpired { issued: i64, inactive_secs: i64 },
    /// 700005: a code or refresh token redeemed against another tenant.
    GrantOtherTenant,
    /// 65001: a delegated scope the app has not been consented for.
    ConsentRequired { client_id: String, app_name: String },
    /// 700025: a public client presented a secret or an assertion.
    PublicClientCredential,
    /// 700051: a `response_type` other than `code`.
    UnsupportedResponseType(String),
    /// 50058: `prompt=none` with no signed-in user.
    LoginRequired,
    /// 65004: the user pressed Cancel on the sign-in page.
    UserDeclined,
    /// 50034: the sign-in form named a user the directory does not have.
    UserNotFound { upn: String, tenant: String },
    /// 70016: the device code's user has not signed in yet.
    AuthorizationPending,
    /// 70019: the device code is past its lifetime.
    DeviceCodeExpired,
    /// The user pressed Cancel on the device-code page. UNCONFIRMED: Entra's number for
    /// `authorization_declined` is not recorded; 70000 is its generic invalid-grant code.
    AuthorizationDeclined,
    /// A `device_code` this service never issued. UNCONFIRMED number, as above: 70000.
    BadVerificationCode,
}

impl Aadsts {
    /// The AADSTS number.
    pub fn code(&self) -> u32 {
        match self {
            Aadsts::MissingParameter(_) => 900144,
            Aadsts::UnsupportedGrantType(_) => 70003,
            Aadsts::PostOnly(_) => 900561,
            Aadsts::TenantNotFound { .. } => 90002,
            Aadsts::InvalidTenantName(_) => 900023,
            Aadsts::TenantlessAuthority(_) => 9001023,
            Aadsts::ApplicationNotFound { .. } => 700016,
            Aadsts::NoCredential => 7000218,
            Aadsts::TwoCredentials => 90014,
            Aadsts::InvalidSecret { .. } => 7000215,
            Aadsts::ExpiredSecret { .. } => 7000222,
            Aadsts::InvalidJwt(_) => 50027,
            Aadsts::KeyNotFound { .. }
            | Aadsts::BadSignature { .. }
            | Aadsts::ExpiredKey { .. } => 700027,
            Aadsts::WeakRsaKey { .. } => 50032,
            Aadsts::TooManyAudiences(_) => 5002741,
            Aadsts::AudienceMismatch => 700023,
            Aadsts::TimeRange { .. } => 700024,
            Aadsts::SubjectMismatchesIssuer => 50048,
            Aadsts::IssuerMismatchesClient { .. } => 700021,
            Aadsts::ScopeNotDefault(_) => 1002012,
            Aadsts::InvalidScope(_) => 70011,
            Aadsts::SeveralResources => 700022,
            Aadsts::ResourceNotFound { .. } => 500011,
            Aadsts::ServerError(_) => 50000,
            Aadsts::UnknownInstance(_) => 50049,
            Aadsts::Overloaded { .. } => 90055,
            Aadsts::RedirectUriMismatch { .. } => 50011,
            Aadsts::RedirectUriChanged { .. } => 500112,
            Aadsts::PkceMismatch => 50148,
            Aadsts::PkceVerifierMissing => 501481,
            Aadsts::PkceMethod(_) => 50149,
            Aadsts::PkceChallengeSize => 501491,
            Aadsts::CodeRedeemed => 54005,
            Aadsts::CodeExpired => 70008,
            Aadsts::InvalidGrant(_)
            | Aadsts::AuthorizationDeclined
            | Aadsts::BadVerificationCode => 70000,
            Aadsts::MalformedGrant => 9002313,
            Aadsts::RefreshTokenExpired { .. } => 700082,
            Aadsts::GrantOtherTenant => 700005,
            Aadsts::ConsentRequired { .. } => 65001,
            Aadsts::PublicClientCredential => 700025,
            Aadsts::UnsupportedResponseType(_) => 700051,
            Aadsts::LoginRequired => 50058,
            Aadsts::UserDeclined => 65004,
            Aadsts::UserNotFound { .. } => 50034,
            Aadsts::AuthorizationPending => 70016,
            Aadsts::DeviceCodeExpired => 70019,
        }
    }

    /// MSAL's `suberror`, where Entra sends one: it decides whether MSAL asks the user again.
    pub fn suberror(&self) -> Option<&'static str> {
        match self {
            Aadsts::ConsentRequired { .. } => Some("consent_required"),
            Aadsts::RefreshTokenExpired { .. } | Aadsts::CodeExpired => Some("bad_token"),
            _ => None,
        }
    }

    /// The `error` of a redirect back to the app from `/authorize`, where OpenID Connect's
    /// interaction errors replace the token endpoint's `invalid_grant`.
    pub fn redirect_error(&self) -> &'static str {
        match self {
            Aadsts::ConsentRequired { .. } => "consent_required",
            _ => self.error(),
        }
    }

    /// The OAuth `error` value.
    pub fn error(&self) -> &'static str {
        match self {
            Aadsts::MissingParameter(_)
            | Aadsts::PostOnly(_)
            | Aadsts::InvalidTenantName(_)
            | Aadsts::TenantlessAuthority(_)
            | Aadsts::NoCredential
            | Aadsts::TwoCredentials
            // UNCONFIRMED: 50027's `error` value is not recorded; malformed input is a request error.
            | Aadsts::InvalidJwt(_)
            | Aadsts::RedirectUriMismatch { .. }
            | Aadsts::PkceMethod(_)
            | Aadsts::PkceChallengeSize
            | Aadsts::UserNotFound { .. } => "invalid_request",
            Aadsts::RedirectUriChanged { .. }
            | Aadsts::PkceMismatch
            | Aadsts::PkceVerifierMissing
            | Aadsts::CodeRedeemed
            | Aadsts::CodeExpired
            | Aadsts::InvalidGrant(_)
            | Aadsts::MalformedGrant
            | Aadsts::RefreshTokenExpired { .. }
            | Aadsts::GrantOtherTenant
            | Aadsts::ConsentRequired { .. } => "invalid_grant",
            Aadsts::UnsupportedResponseType(_) => "unsupported_response_type",
            Aadsts::LoginRequired => "login_required",
            Aadsts::UserDeclined => "access_denied",
            Aadsts::AuthorizationPending => "authorization_pending",
            Aadsts::DeviceCodeExpired => "expired_token",
            Aadsts::AuthorizationDeclined => "authorization_declined",
            Aadsts::BadVerificationCode => "bad_verification_code",
            Aadsts::TenantNotFound { discovery: true, .. } => "invalid_tenant",
            // Token requests to an unknown tenant come back as invalid_request (ADAL "(400)" logs).
            Aadsts::TenantNotFound { discovery: false, .. } => "invalid_request",
            Aadsts::UnsupportedGrantType(_) => "unsupported_grant_type",
            Aadsts::ApplicationNotFound { .. } => "unauthorized_client",
            // UNCONFIRMED for 50032, 5002741, 50048, 700021: these judge the client's credential,
            // so they are given Entra's credential error, invalid_client.
            Aadsts::InvalidSecret { .. }
            | Aadsts::ExpiredSecret { .. }
            | Aadsts::KeyNotFound { .. }
            | Aadsts::BadSignature { .. }
            | Aadsts::ExpiredKey { .. }
            | Aadsts::WeakRsaKey { .. }
            | Aadsts::TooManyAudiences(_)
            | Aadsts::AudienceMismatch
            | Aadsts::TimeRange { .. }
            | Aadsts::SubjectMismatchesIssuer
            | Aadsts::IssuerMismatchesClient { .. }
            | Aadsts::PublicClientCredential => "invalid_client",
            Aadsts::ScopeNotDefault(_) | Aadsts::InvalidScope(_) | Aadsts::SeveralResources => {
                "invalid_scope"
            }
            // UNCONFIRMED: the reference says "likely invalid_resource".
            Aadsts::ResourceNotFound { .. } => "invalid_resource",
            Aadsts::UnknownInstance(_) => "invalid_instance",
            Aadsts::ServerError(_) | Aadsts::Overloaded { .. } => "temporarily_unavailable",
        }
    }

    /// 401 for `invalid_client` (as live Entra answers), 503 when over capacity, 500 for the
    /// service's other faults, else 400.
    pub fn status(&self) -> StatusCode {
        if let Aadsts::Overloaded { .. } = self {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self.error() {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "temporarily_unavailable" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The message after `AADSTSnnnn: `.
    pub fn message(&self) -> String {
        match self {
            Aadsts::MissingParameter("client_assertion_type") => format!(
                "The request body must contain the following parameter: 'client_assertion_type' \
                 with the value '{}'.",
                certgen::assertion::ASSERTION_TYPE
            ),
            Aadsts::MissingParameter(name) => {
                format!("The request body must contain the following parameter: '{name}'.")
            }
            Aadsts::UnsupportedGrantType(g) => format!(
                "The app requested an unsupported grant type '{g}'. This token service issues \
                 tokens for the client_credentials, authorization_code, refresh_token and \
                 device_code grants (the last three on the v2.0 endpoint)."
            ),
            Aadsts::PostOnly(method) => format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {method} request."
            ),
            Aadsts::TenantNotFound { tenant, .. } => format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud. This token service knows only the \
                 tenants given with --tenant or in its --config file."
            ),
            Aadsts::InvalidTenantName(t) => format!(
                "Specified tenant identifier '{t}' is neither a valid DNS name, nor a valid \
                 external domain."
            ),
            Aadsts::TenantlessAuthority(t) => format!(
                "The grant type isn't supported over the /{t} endpoint. Please use a \
                 tenant-specific endpoint."
            ),
            Aadsts::ApplicationNotFound { client_id, tenant } => format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant."
            ),
            Aadsts::NoCredential => "The request body must contain the following parameter: \
                                     'client_assertion' or 'client_secret'."
                .to_string(),
            Aadsts::TwoCredentials => "The request presents both a client secret and a client \
                                       assertion; send exactly one client credential."
                .to_string(),
            Aadsts::InvalidSecret { client_id } => format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{client_id}'."
            ),
            // The live text (dotnet/sign #849, 2025), links included.
            Aadsts::ExpiredSecret { client_id } => format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the \
                 Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, \
                 or consider using certificate credentials for added security: \
                 https://aka.ms/certCreds."
            ),
            Aadsts::InvalidJwt(detail) => format!("Invalid JWT token. {detail}"),
            Aadsts::KeyNotFound {
                thumbprint,
                client_id,
            } => format!(
                "The certificate with identifier used to sign the client assertion is not \
                 registered on application. [Reason - The key was not found., Thumbprint of key \
                 used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer \
                 or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
            ),
            Aadsts::BadSignature {
                thumbprint,
                key_start,
                key_end,
            } => format!(
                "Client assertion contains an invalid signature. [Reason - The provided \
                 signature value did not match the expected signature value., Thumbprint of key \
                 used by client: '{thumbprint}', Found key 'Start={}, End={}']",
                key_date(*key_start),
                key_date(*key_end)
            ),
            // UNCONFIRMED: the live wording of this Reason is not recorded; "The key used is
            // expired." in the bracket of the other 700027 reasons is what the spec names.
            Aadsts::ExpiredKey {
                thumbprint,
                key_start,
                key_end,
            } => format!(
                "Client assertion contains an invalid signature. [Reason - The key used is \
                 expired., Thumbprint of key used by client: '{thumbprint}', Found key \
                 'Start={}, End={}']",
                key_date(*key_start),
                key_date(*key_end)
            ),
            Aadsts::WeakRsaKey { bits } => format!(
                "The key used to sign the client assertion is too weak: RSA {bits} bits. Use an \
                 RSA key of at least 2048 bits."
            ),
            Aadsts::TooManyAudiences(n) => format!(
                "Number of audience values in the provided client credential exceed maximum \
                 allowed. {n} audience values provided, maximum allowed is 1."
            ),
            Aadsts::AudienceMismatch => format!(
                "Client assertion audience claim does not match Realm issuer. Review the \
                 documentation at {CERT_CREDENTIALS_DOC} ."
            ),
            Aadsts::TimeRange {
                now,
                valid_from,
                expires,
            } => format!(
                "Client assertion is not within its valid time range. Current time: {}, \
                 assertion valid from {}, expiry time of assertion {}. Review the documentation \
                 at {CERT_CREDENTIALS_DOC} .",
                ticks_time(*now),
                ticks_time(*valid_from),
                ticks_time(*expires)
            ),
            Aadsts::SubjectMismatchesIssuer => {
                "Subject mismatches Issuer in the client assertion: 'sub' must equal 'iss' (the \
                 client id)."
                    .to_string()
            }
            Aadsts::IssuerMismatchesClient { iss, client_id } => format!(
                "Client assertion application identifier '{iss}' doesn't match 'client_id' \
                 parameter '{client_id}'."
            ),
            Aadsts::ScopeNotDefault(scope) => format!(
                "The provided value for scope {scope} is not valid. Client credential flows must \
                 have a scope value with /.default suffixed to the resource identifier \
                 (application ID URI)."
            ),
            Aadsts::InvalidScope(scope) => format!(
                "The provided value for the input parameter 'scope' is not valid. The scope \
                 '{scope}' does not name a resource."
            ),
            Aadsts::SeveralResources => "The scope parameter names more than one resource; \
                                         request a token for one resource at a time."
                .to_string(),
            Aadsts::ResourceNotFound { resource, tenant } => format!(
                "The resource principal named {resource} was not found in the tenant named \
                 {tenant}. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You \
                 might have sent your authentication request to the wrong tenant."
            ),
            Aadsts::UnknownInstance(endpoint) => format!(
                "Unknown or invalid instance. The authority of '{endpoint}' is neither a Microsoft \
                 cloud nor this token service."
            ),
            Aadsts::ServerError(detail) => {
                format!("There was an error issuing a token ({detail}).")
            }
            Aadsts::Overloaded { retry_after_secs } => format!(
                "There are too many incoming requests: this token service is at its \
                 --max-in-flight limit. Retry after {retry_after_secs} second(s)."
            ),
            Aadsts::RedirectUriMismatch {
                redirect_uri,
                client_id,
            } => format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the \
                 redirect URIs configured for the application '{client_id}'. Make sure the \
                 redirect URI sent in the request matches one added to your application in the \
                 Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more \
                 about how to fix this."
            ),
            Aadsts::RedirectUriChanged { sent, issued } => format!(
                "The reply address '{sent}' does not match the reply address '{issued}' \
                 provided when requesting Authorization code."
            ),
            Aadsts::PkceMismatch => "The code_verifier does not match the code_challenge \
                                     supplied in the authorization request for PKCE."
                .to_string(),
            Aadsts::PkceVerifierMissing => "The Code_Verifier doesn't match the code_challenge \
                                            supplied in the authorization request: the request \
                                            has no code_verifier."
                .to_string(),
            Aadsts::PkceMethod(m) => format!(
                "Invalid code_challenge_method '{m}': the supported methods are S256 and plain."
            ),
            Aadsts::PkceChallengeSize => "Invalid size of Code_Challenge parameter.".to_string(),
            Aadsts::CodeRedeemed => "OAuth2 Authorization code was already redeemed, please \
                                     retry with a new valid code or use an existing refresh \
                                     token."
                .to_string(),
            Aadsts::CodeExpired => "The provided authorization code or refresh token has \
                                    expired due to inactivity. Send a new interactive \
                                    authorization request for this user and resource."
                .to_string(),
            Aadsts::InvalidGrant(detail) => detail.clone(),
            Aadsts::MalformedGrant => "Invalid request. Request is malformed or invalid.".into(),
            Aadsts::RefreshTokenExpired {
                issued,
                inactive_secs,
            } => format!(
                "The refresh token has expired due to inactivity. The token was issued on {} \
                 and was inactive for {}.",
                ticks_time(*issued),
                timespan(*inactive_secs)
            ),
            Aadsts::GrantOtherTenant => "Provided Authorization Code is intended to use \
                                         against other tenant, thus rejected."
                .to_string(),
            Aadsts::ConsentRequired {
                client_id,
                app_name,
            } => format!(
                "The user or administrator has not consented to use the application with ID \
                 '{client_id}' named '{app_name}'. Send an interactive authorization request \
                 for this user and resource."
            ),
            Aadsts::PublicClientCredential => "Client is public so neither 'client_assertion' \
                                               nor 'client_secret' should be presented."
                .to_string(),
            Aadsts::UnsupportedResponseType(t) => {
                format!("response_type '{t}' is not enabled for the application.")
            }
            Aadsts::LoginRequired => {
                "A silent sign-in request was sent but no user is signed in.".to_string()
            }
            Aadsts::UserDeclined => "User declined to consent to access the app.".to_string(),
            Aadsts::UserNotFound { upn, tenant } => format!(
                "The user account {upn} does not exist in the {tenant} directory. To sign \
                 into this application, the account must be added to the directory."
            ),
            Aadsts::AuthorizationPending => "OAuth 2.0 device flow error. Authorization is \
                                             pending. Continue polling."
                .to_string(),
            Aadsts::DeviceCodeExpired => "Verification code expired.".to_string(),
            Aadsts::AuthorizationDeclined => {
                "The end user denied the authorization request.".to_string()
            }
            Aadsts::BadVerificationCode => {
                "The provided device_code is not valid: this token service did not issue it."
                    .to_string()
            }
        }
    }

    /// Entra's error body, with fresh trace id and the given correlation id.
    pub fn body(&self, correlation_id: &str, now: OffsetDateTime) -> serde_json::Value {
        let code = self.code();
        let trace_id = uuid::Uuid::new_v4().to_string();
        let timestamp = entra_timestamp(now);
        let mut body = json!({
            "error": self.error(),
            "error_description": format!(
                "AADSTS{code}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.message()
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        if let Some(sub) = self.suberror() {
            body["suberror"] = json!(sub);
        }
        body
    }

    /// The HTTP response: status, Entra's body, its no-cache headers, and `Retry-After` when
    /// the refusal is temporary.
    pub fn response(&self, correlation_id: &str) -> Response {
        let body = self.body(correlation_id, OffsetDateTime::now_utc());
        let mut resp = (self.status(), json_body(&body)).into_response();
        no_store(&mut resp);
        if let Aadsts::Overloaded { retry_after_secs } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        resp
    }
}

/// A JSON body with Entra's content type.
pub fn json_body(value: &serde_json::Value) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        value.to_string(),
    )
}

/// The cache headers Entra sends with token responses and errors.
pub fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `YYYY-MM-DD HH:MM:SSZ`, as Entra's `timestamp` field.
pub fn entra_timestamp(t: OffsetDateTime) -> String {
    let [y, mo, d, h, mi, s] = date_parts(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

/// Entra's 700024 time format: ISO 8601 with seven fractional digits (.NET ticks).
fn ticks_time(unix: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => {
            let [y, mo, d, h, mi, s] = date_parts(t);
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.0000000Z")
        }
        Err(_) => format!("{unix} (seconds since 1970, out of range)"),
    }
}

/// A .NET TimeSpan as Entra prints one: `90.00:00:00` (days.hours:minutes:seconds).
fn timespan(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, rest) = (secs / 86_400, secs % 86_400);
    format!(
        "{d}.{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The `Start=…, End=…` date form of 700027 texts (US format, as the live messages show).
fn key_date(t: OffsetDateTime) -> String {
    let [y, mo, d, h, mi, s] = date_parts(t);
    format!("{mo:02}/{d:02}/{y:04} {h:02}:{mi:02}:{s:02}")
}

fn date_parts(t: OffsetDateTime) -> [i32; 6] {
    [
        t.year(),
        i32::from(u8::from(t.month())),
        i32::from(t.day()),
        i32::from(t.hour()),
        i32::from(t.minute()),
        i32::from(t.second()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn body_has_entras_shape() {
        let e = Aadsts::InvalidSecret {
            client_id: "c".into(),
        };
        let body = e.body("corr", datetime!(2016-01-09 02:02:12 UTC));
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000215]));
        assert_eq!(body["timestamp"], "2016-01-09 02:02:12Z");
        assert_eq!(body["correlation_id"], "corr");
        let d = body["error_description"].as_str().unwrap();
        assert!(d.starts_with("AADSTS7000215: Invalid client secret provided."));
        assert!(d.ends_with("\r\nCorrelation ID: corr\r\nTimestamp: 2016-01-09 02:02:12Z"));
        assert_eq!(
            body["error_uri"],
            "https://login.microsoftonline.com/error?code=7000215"
        );
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn statuses_follow_the_error_value() {
        assert_eq!(Aadsts::NoCredential.status(), StatusCode::BAD_REQUEST);
        assert_eq!(Aadsts::AudienceMismatch.status(), StatusCode::UNAUTHORIZED);
        let missing = Aadsts::ApplicationNotFound {
            client_id: "a".into(),
            tenant: "t".into(),
        };
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        assert_eq!(missing.error(), "unauthorized_client");
        let expired = Aadsts::ExpiredSecret {
            client_id: "c".into(),
        };
        assert_eq!(
            (expired.status(), expired.error(), expired.code()),
            (StatusCode::UNAUTHORIZED, "invalid_client", 7000222)
        );
    }

    #[test]
    fn overload_is_503_with_retry_after() {
        let e = Aadsts::Overloaded {
            retry_after_secs: 2,
        };
        let resp = e.response("corr");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store, no-cache");
        assert_eq!(e.error(), "temporarily_unavailable");
        // Other refusals are final: no Retry-After.
        let resp = Aadsts::NoCredential.response("corr");
        assert!(!resp.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn time_range_text_states_the_window() {
        let m = Aadsts::TimeRange {
            now: 1_484_593_341,
            valid_from: 0,
            expires: 1_484_592_741,
        }
        .message();
        assert!(
            m.contains("Current time: 2017-01-16T19:02:21.0000000Z"),
            "{m}"
        );
        assert!(
            m.contains("assertion valid from 1970-01-01T00:00:00.0000000Z"),
            "{m}"
        );
    }
}
