//! The catalogue of AADSTS errors the token service returns, and Entra's error body.
//!
//! Every refusal the service makes is one variant of [`Aadsts`]; its code, OAuth `error` value,
//! HTTP status and message text are decided here and nowhere else. Texts follow the live Entra
//! messages (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>); where Entra's `error` value or code for a
//! case is not documented, the choice made here is flagged `UNCONFIRMED` next to it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;

/// The documentation link Entra puts in 700023/700024 texts.
const CERT_CREDENTIALS_DOC: &str =
    "https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials";

/// The documentation link Entra puts in its federated-credential mismatch texts.
const FEDERATION_DOC: &str =
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

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
    /// 50000 with 503: the directory could not be read or written (its disk full, its file
    /// damaged or read-only); nothing of the request was kept.
    DirectoryUnavailable(String),
    /// 7000229: an application made through Graph that has no service principal yet.
    MissingServicePrincipal { client_id: String, tenant: String },
    /// 50049: instance discovery for an authority that is not a known cloud (nor this service).
    UnknownInstance(String),
    /// 90055: more requests in flight than `--max-in-flight`; answered at once with 503 and
    /// `Retry-After` instead of queueing. UNCONFIRMED: live Entra throttles client credentials
    /// with 429 and `Retry-After: 60` (MSAL.NET's throttling guide) and no AADSTS code is
    /// recorded for it; 90055 is the TenantThrottlingError of Entra's code list ("too many
    /// incoming requests"). 503 because here the server, not the client, is out of capacity.
    Overloaded { retry_after_secs: u64 },

    // The user flows (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).
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
    /// 90015: a sign-in request (or one of its parameters) longer than the service takes.
    QueryStringTooLong { parameter: String, limit: usize },
    /// 50058: `prompt=none` with no signed-in user.
    LoginRequired,
    /// 65004: the user pressed Cancel on the sign-in page.
    UserDeclined,
    /// 50034: the sign-in form named a user the directory does not have.
    UserNotFound { upn: String, tenant: String },
    /// 50057: the user's account is disabled (`accountEnabled` false).
    UserDisabled,
    /// 70016: the device code's user has not signed in yet.
    AuthorizationPending,
    /// 70019: the device code is past its lifetime.
    DeviceCodeExpired,
    /// The user pressed Cancel on the device-code page. UNCONFIRMED: Entra's number for
    /// `authorization_declined` is not recorded; 70000 is its generic invalid-grant code.
    AuthorizationDeclined,
    /// A `device_code` this service never issued. UNCONFIRMED number, as above: 70000.
    BadVerificationCode,

    // Workload identity federation (https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation).
    /// 70025: the app has no federated identity credential at all.
    NoFederatedCredentials { app_name: String, client_id: String },
    /// 70021: no credential matches, and the nearest differs in more than one of issuer,
    /// subject and audience.
    NoMatchingFederatedCredential {
        iss: String,
        sub: String,
        aud: String,
    },
    /// 700211: no credential has the token's issuer (the rest of the nearest one matching).
    FederatedIssuerMismatch { iss: String },
    /// 700212: the nearest credential's audience is not among the token's `aud`.
    FederatedAudienceMismatch { aud: String },
    /// 700213: the nearest credential's subject differs from `sub`.
    FederatedSubjectMismatch { sub: String },
    /// 7002138: the subject matches only when case is ignored.
    FederatedSubjectCase { sub: String },
    /// 7000272: the issuer's key set has no key the token names.
    FederatedKeyNotFound { key: String, iss: String },
    /// 90061: the issuer's metadata or keys could not be read (why, after Entra's text).
    ExternalOidcFailed(String),
    /// 700222: a token of this service's own (Entra's) signer that is not a user-assigned
    /// managed identity's.
    EntraTokenAsFederated,
}

/// One row of the catalogue: everything Entra's answer to a refusal is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The AADSTS number.
    pub code: u32,
    /// The OAuth `error` value.
    pub error: &'static str,
    /// 401 for `invalid_client` (as live Entra answers), 503 when over capacity, 500 for the
    /// service's other faults, else 400.
    pub status: StatusCode,
    /// MSAL's `suberror`, where Entra sends one: it decides whether MSAL asks the user again.
    pub suberror: Option<&'static str>,
    /// The `error` of a redirect back to the app from `/authorize`, where OpenID Connect's
    /// interaction errors replace the token endpoint's `invalid_grant`; `None`: [`Row::error`].
    pub redirect_error: Option<&'static str>,
    /// The message after `AADSTSnnnn: `, `{name}` standing for an argument.
    text: &'static str,
    args: Vec<(&'static str, String)>,
}

const S400: StatusCode = StatusCode::BAD_REQUEST;
const S401: StatusCode = StatusCode::UNAUTHORIZED;
const S500: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;
const S503: StatusCode = StatusCode::SERVICE_UNAVAILABLE;

/// A row with no suberror and no arguments yet.
fn row(code: u32, error: &'static str, status: StatusCode, text: &'static str) -> Row {
    Row {
        code,
        error,
        status,
        suberror: None,
        redirect_error: None,
        text,
        args: Vec::new(),
    }
}

impl Row {
    /// The value of `{name}` in the text.
    fn arg(mut self, name: &'static str, value: impl ToString) -> Row {
        self.args.push((name, value.to_string()));
        self
    }

    fn suberror(mut self, suberror: &'static str) -> Row {
        self.suberror = Some(suberror);
        self
    }

    fn redirect_error(mut self, error: &'static str) -> Row {
        self.redirect_error = Some(error);
        self
    }

    /// The text with its arguments in place. One pass over the template, so an argument that
    /// itself holds `{…}` (a tenant or scope from the request) is copied, never expanded.
    pub fn message(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let value = after.find('}').and_then(|close| {
                let name = &after[..close];
                self.args
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (v, close))
            });
            match value {
                Some((v, close)) => {
                    out.push_str(v);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

impl Aadsts {
    /// The catalogue: one row per refusal. `error` values marked UNCONFIRMED are choices where
    /// Entra's value is not documented; see
    /// <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>.
    #[rustfmt::skip]
    pub fn row(&self) -> Row {
        use Aadsts::*;
        match self {
            MissingParameter("client_assertion_type") => row(900144, "invalid_request", S400,
                "The request body must contain the following parameter: 'client_assertion_type' \
                 with the value '{type}'.")
                .arg("type", certgen::assertion::ASSERTION_TYPE),
            MissingParameter(name) => row(900144, "invalid_request", S400,
                "The request body must contain the following parameter: '{name}'.")
                .arg("name", name),
            UnsupportedGrantType(g) => row(70003, "unsupported_grant_type", S400,
                "The app requested an unsupported grant type '{g}'. This token service issues \
                 tokens for the client_credentials, authorization_code, refresh_token and \
                 device_code grants (the last three on the v2.0 endpoint).")
                .arg("g", g),
            PostOnly(method) => row(900561, "invalid_request", S400,
                "The endpoint only accepts POST, OPTIONS requests. Received a {method} request.")
                .arg("method", method),
            // Token requests to an unknown tenant come back as invalid_request (ADAL "(400)"
            // logs), discovery documents as invalid_tenant.
            TenantNotFound { tenant, discovery } => row(90002,
                if *discovery { "invalid_tenant" } else { "invalid_request" }, S400,
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud. This token service knows only the \
                 tenants given with --tenant or in its --config file.")
                .arg("tenant", tenant),
            InvalidTenantName(t) => row(900023, "invalid_request", S400,
                "Specified tenant identifier '{t}' is neither a valid DNS name, nor a valid \
                 external domain.")
                .arg("t", t),
            TenantlessAuthority(t) => row(9001023, "invalid_request", S400,
                "The grant type isn't supported over the /{t} endpoint. Please use a \
                 tenant-specific endpoint.")
                .arg("t", t),
            ApplicationNotFound { client_id, tenant } => row(700016, "unauthorized_client", S400,
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant.")
                .arg("client_id", client_id)
                .arg("tenant", tenant),
            NoCredential => row(7000218, "invalid_request", S400,
                "The request body must contain the following parameter: 'client_assertion' or \
                 'client_secret'."),
            TwoCredentials => row(90014, "invalid_request", S400,
                "The request presents both a client secret and a client assertion; send exactly \
                 one client credential."),
            InvalidSecret { client_id } => row(7000215, "invalid_client", S401,
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{client_id}'.")
                .arg("client_id", client_id),
            // The live text (dotnet/sign #849, 2025), links included.
            ExpiredSecret { client_id } => row(7000222, "invalid_client", S401,
                "The provided client secret keys for app '{client_id}' are expired. Visit the \
                 Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, \
                 or consider using certificate credentials for added security: \
                 https://aka.ms/certCreds.")
                .arg("client_id", client_id),
            // UNCONFIRMED: 50027's `error` value is not documented; chosen because malformed
            // input is a request error.
            InvalidJwt(detail) => row(50027, "invalid_request", S400, "Invalid JWT token. {detail}")
                .arg("detail", detail),
            KeyNotFound { thumbprint, client_id } => row(700027, "invalid_client", S401,
                "The certificate with identifier used to sign the client assertion is not \
                 registered on application. [Reason - The key was not found., Thumbprint of key \
                 used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer \
                 or directly use MS Graph to see configured keys for app Id '{client_id}'.]")
                .arg("thumbprint", thumbprint)
                .arg("client_id", client_id),
            BadSignature { thumbprint, key_start, key_end } => row(700027, "invalid_client", S401,
                "Client assertion contains an invalid signature. [Reason - The provided \
                 signature value did not match the expected signature value., Thumbprint of key \
                 used by client: '{thumbprint}', Found key 'Start={start}, End={end}']")
                .arg("thumbprint", thumbprint)
                .arg("start", key_date(*key_start))
                .arg("end", key_date(*key_end)),
            // UNCONFIRMED: the live wording of this Reason is not documented; chosen because
            // "The key used is expired." fits the bracket of the other 700027 reasons.
            ExpiredKey { thumbprint, key_start, key_end } => row(700027, "invalid_client", S401,
                "Client assertion contains an invalid signature. [Reason - The key used is \
                 expired., Thumbprint of key used by client: '{thumbprint}', Found key \
                 'Start={start}, End={end}']")
                .arg("thumbprint", thumbprint)
                .arg("start", key_date(*key_start))
                .arg("end", key_date(*key_end)),
            // UNCONFIRMED `error` for 50032, 5002741, 50048 and 700021: chosen because these
            // judge the client's credential, and Entra's credential error is invalid_client.
            WeakRsaKey { bits } => row(50032, "invalid_client", S401,
                "The key used to sign the client assertion is too weak: RSA {bits} bits. Use an \
                 RSA key of at least 2048 bits.")
                .arg("bits", bits),
            TooManyAudiences(n) => row(5002741, "invalid_client", S401,
                "Number of audience values in the provided client credential exceed maximum \
                 allowed. {n} audience values provided, maximum allowed is 1.")
                .arg("n", n),
            AudienceMismatch => row(700023, "invalid_client", S401,
                "Client assertion audience claim does not match Realm issuer. Review the \
                 documentation at {doc} .")
                .arg("doc", CERT_CREDENTIALS_DOC),
            TimeRange { now, valid_from, expires } => row(700024, "invalid_client", S401,
                "Client assertion is not within its valid time range. Current time: {now}, \
                 assertion valid from {from}, expiry time of assertion {exp}. Review the \
                 documentation at {doc} .")
                .arg("now", ticks_time(*now))
                .arg("from", ticks_time(*valid_from))
                .arg("exp", ticks_time(*expires))
                .arg("doc", CERT_CREDENTIALS_DOC),
            SubjectMismatchesIssuer => row(50048, "invalid_client", S401,
                "Subject mismatches Issuer in the client assertion: 'sub' must equal 'iss' (the \
                 client id)."),
            IssuerMismatchesClient { iss, client_id } => row(700021, "invalid_client", S401,
                "Client assertion application identifier '{iss}' doesn't match 'client_id' \
                 parameter '{client_id}'.")
                .arg("iss", iss)
                .arg("client_id", client_id),
            ScopeNotDefault(scope) => row(1002012, "invalid_scope", S400,
                "The provided value for scope {scope} is not valid. Client credential flows must \
                 have a scope value with /.default suffixed to the resource identifier \
                 (application ID URI).")
                .arg("scope", scope),
            InvalidScope(scope) => row(70011, "invalid_scope", S400,
                "The provided value for the input parameter 'scope' is not valid. The scope \
                 '{scope}' does not name a resource.")
                .arg("scope", scope),
            SeveralResources => row(700022, "invalid_scope", S400,
                "The scope parameter names more than one resource; request a token for one \
                 resource at a time."),
            // UNCONFIRMED: 500011's `error` value is not documented; invalid_resource chosen
            // because it is the OAuth error for an unknown resource.
            ResourceNotFound { resource, tenant } => row(500011, "invalid_resource", S400,
                "The resource principal named {resource} was not found in the tenant named \
                 {tenant}. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You \
                 might have sent your authentication request to the wrong tenant.")
                .arg("resource", resource)
                .arg("tenant", tenant),
            ServerError(detail) => row(50000, "temporarily_unavailable", S500,
                "There was an error issuing a token ({detail}).")
                .arg("detail", detail),
            // UNCONFIRMED: Entra's answer when its own store fails is not documented; 50000
            // with 503 chosen so clients retry, as they do for temporarily_unavailable.
            DirectoryUnavailable(detail) => row(50000, "temporarily_unavailable", S503,
                "There was an error issuing a token: the directory is unavailable ({detail}).")
                .arg("detail", detail),
            // The text as Entra words it (learn.microsoft.com/en-us/entra/identity-platform/
            // reference-error-codes, AADSTS7000229); UNCONFIRMED: its status and `error` value,
            // invalid_client chosen since the client is what is missing.
            MissingServicePrincipal { client_id, tenant } => row(7000229, "invalid_client", S401,
                "The client application {client_id} is missing service principal in the \
                 tenant {tenant}. See instructions here: \
                 https://go.microsoft.com/fwlink/?linkid=2225119")
                .arg("client_id", client_id)
                .arg("tenant", tenant),
            UnknownInstance(endpoint) => row(50049, "invalid_instance", S400,
                "Unknown or invalid instance. The authority of '{endpoint}' is neither a \
                 Microsoft cloud nor this token service.")
                .arg("endpoint", endpoint),
            Overloaded { retry_after_secs } => row(90055, "temporarily_unavailable", S503,
                "There are too many incoming requests: this token service is at its \
                 --max-in-flight limit. Retry after {secs} second(s).")
                .arg("secs", retry_after_secs),
            RedirectUriMismatch { redirect_uri, client_id } => row(50011, "invalid_request", S400,
                "The redirect URI '{redirect_uri}' specified in the request does not match the \
                 redirect URIs configured for the application '{client_id}'. Make sure the \
                 redirect URI sent in the request matches one added to your application in the \
                 Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more \
                 about how to fix this.")
                .arg("redirect_uri", redirect_uri)
                .arg("client_id", client_id),
            RedirectUriChanged { sent, issued } => row(500112, "invalid_grant", S400,
                "The reply address '{sent}' does not match the reply address '{issued}' \
                 provided when requesting Authorization code.")
                .arg("sent", sent)
                .arg("issued", issued),
            PkceMismatch => row(50148, "invalid_grant", S400,
                "The code_verifier does not match the code_challenge supplied in the \
                 authorization request for PKCE."),
            PkceVerifierMissing => row(501481, "invalid_grant", S400,
                "The Code_Verifier doesn't match the code_challenge supplied in the \
                 authorization request: the request has no code_verifier."),
            PkceMethod(m) => row(50149, "invalid_request", S400,
                "Invalid code_challenge_method '{m}': the supported methods are S256 and plain.")
                .arg("m", m),
            PkceChallengeSize => row(501491, "invalid_request", S400,
                "Invalid size of Code_Challenge parameter."),
            CodeRedeemed => row(54005, "invalid_grant", S400,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid \
                 code or use an existing refresh token."),
            CodeExpired => row(70008, "invalid_grant", S400,
                "The provided authorization code or refresh token has expired due to \
                 inactivity. Send a new interactive authorization request for this user and \
                 resource.")
                .suberror("bad_token"),
            InvalidGrant(detail) => row(70000, "invalid_grant", S400, "{detail}")
                .arg("detail", detail),
            MalformedGrant => row(9002313, "invalid_grant", S400,
                "Invalid request. Request is malformed or invalid."),
            RefreshTokenExpired { issued, inactive_secs } => row(700082, "invalid_grant", S400,
                "The refresh token has expired due to inactivity. The token was issued on \
                 {issued} and was inactive for {inactive}.")
                .arg("issued", ticks_time(*issued))
                .arg("inactive", timespan(*inactive_secs))
                .suberror("bad_token"),
            GrantOtherTenant => row(700005, "invalid_grant", S400,
                "Provided Authorization Code is intended to use against other tenant, thus \
                 rejected."),
            ConsentRequired { client_id, app_name } => row(65001, "invalid_grant", S400,
                "The user or administrator has not consented to use the application with ID \
                 '{client_id}' named '{app_name}'. Send an interactive authorization request \
                 for this user and resource.")
                .arg("client_id", client_id)
                .arg("app_name", app_name)
                .suberror("consent_required")
                .redirect_error("consent_required"),
            PublicClientCredential => row(700025, "invalid_client", S401,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be \
                 presented."),
            UnsupportedResponseType(t) => row(700051, "unsupported_response_type", S400,
                "response_type '{t}' is not enabled for the application.")
                .arg("t", t),
            // https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
            // lists 90015 as QueryStringTooLong.
            QueryStringTooLong { parameter, limit } => row(90015, "invalid_request", S400,
                "The query string is too long: '{parameter}' is longer than the {limit} \
                 characters this token service accepts.")
                .arg("parameter", parameter)
                .arg("limit", limit),
            LoginRequired => row(50058, "login_required", S400,
                "A silent sign-in request was sent but no user is signed in."),
            UserDeclined => row(65004, "access_denied", S400,
                "User declined to consent to access the app."),
            UserNotFound { upn, tenant } => row(50034, "invalid_request", S400,
                "The user account {upn} does not exist in the {tenant} directory. To sign into \
                 this application, the account must be added to the directory.")
                .arg("upn", upn)
                .arg("tenant", tenant),
            // https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
            // ("UserDisabled - The user account is disabled.").
            UserDisabled => row(50057, "invalid_grant", S400,
                "The user account is disabled. The user object in Active Directory backing this \
                 account has been disabled. An admin can re-enable this account."),
            AuthorizationPending => row(70016, "authorization_pending", S400,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling."),
            DeviceCodeExpired => row(70019, "expired_token", S400, "Verification code expired."),
            AuthorizationDeclined => row(70000, "authorization_declined", S400,
                "The end user denied the authorization request."),
            BadVerificationCode => row(70000, "bad_verification_code", S400,
                "The provided device_code is not valid: this token service did not issue it."),
            // Texts as live Entra answers quoted them (Azure/azure-workload-identity#340,
            // #1350, Azure/login#482, #515). UNCONFIRMED statuses and `error` values for
            // 70025, 7000272, 700222: 401 invalid_client chosen as for every other refusal of
            // a client credential; 70021 is 401 invalid_client as seen since 2023.
            NoFederatedCredentials { app_name, client_id } => row(70025, "invalid_client", S401,
                "The client '{app_name}'({client_id}) has no configured federated identity \
                 credentials.")
                .arg("app_name", app_name)
                .arg("client_id", client_id),
            NoMatchingFederatedCredential { iss, sub, aud } => row(70021, "invalid_client", S401,
                "No matching federated identity record found for presented assertion. Assertion \
                 Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'. \
                 {doc}")
                .arg("iss", iss)
                .arg("sub", sub)
                .arg("aud", aud)
                .arg("doc", FEDERATION_DOC),
            FederatedIssuerMismatch { iss } => row(700211, "invalid_client", S401,
                "No matching federated identity record found for presented assertion issuer \
                 '{iss}'. Please check your federated identity credential Subject, Audience and \
                 Issuer against the presented assertion. {doc}")
                .arg("iss", iss)
                .arg("doc", FEDERATION_DOC),
            FederatedAudienceMismatch { aud } => row(700212, "invalid_client", S401,
                "No matching federated identity record found for presented assertion audience \
                 '{aud}'. Please check your federated identity credential Subject, Audience and \
                 Issuer against the presented assertion. {doc}")
                .arg("aud", aud)
                .arg("doc", FEDERATION_DOC),
            FederatedSubjectMismatch { sub } => row(700213, "invalid_client", S401,
                "No matching federated identity record found for presented assertion subject \
                 '{sub}'. Please check your federated identity credential Subject, Audience and \
                 Issuer against the presented assertion. {doc}")
                .arg("sub", sub)
                .arg("doc", FEDERATION_DOC),
            FederatedSubjectCase { sub } => row(7002138, "invalid_client", S401,
                "No matching federated identity record found for presented assertion subject \
                 '{sub}'. The subject matches with case-insensitive comparison, but not with \
                 case-sensitive comparison. Please check your federated identity credential \
                 Subject, Audience and Issuer against the presented assertion. {doc}")
                .arg("sub", sub)
                .arg("doc", FEDERATION_DOC),
            FederatedKeyNotFound { key, iss } => row(7000272, "invalid_client", S401,
                "The certificate with identifier {key} used to sign the federated credential \
                 could not be found in the metadata of identity provider {iss}. Please validate \
                 that your Identity Provider's metadata exposes the key used to sign the \
                 incoming token.")
                .arg("key", key)
                .arg("iss", iss),
            ExternalOidcFailed(why) => row(90061, "invalid_request", S400,
                "Request to External OIDC endpoint failed. (certgen serve: {why})")
                .arg("why", why),
            EntraTokenAsFederated => row(700222, "invalid_client", S401,
                "AAD-issued tokens may not be used for federated identity flows."),
        }
    }

    /// The AADSTS number.
    pub fn code(&self) -> u32 {
        self.row().code
    }

    /// MSAL's `suberror`, where Entra sends one.
    pub fn suberror(&self) -> Option<&'static str> {
        self.row().suberror
    }

    /// The `error` of a redirect back to the app from `/authorize`.
    pub fn redirect_error(&self) -> &'static str {
        let row = self.row();
        row.redirect_error.unwrap_or(row.error)
    }

    /// The OAuth `error` value.
    pub fn error(&self) -> &'static str {
        self.row().error
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        self.row().status
    }

    /// The message after `AADSTSnnnn: `.
    pub fn message(&self) -> String {
        self.row().message()
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

#[cfg(test)]
mod catalogue {
    use super::*;
    use time::macros::datetime;

    /// One of every refusal, arguments holding braces where a request could put them.
    fn all() -> Vec<Aadsts> {
        let t1 = datetime!(2024-01-02 03:04:05 UTC);
        let t2 = datetime!(2025-06-07 08:09:10 UTC);
        vec![
            Aadsts::MissingParameter("client_assertion_type"),
            Aadsts::MissingParameter("scope"),
            Aadsts::UnsupportedGrantType("password".into()),
            Aadsts::PostOnly("GET".into()),
            Aadsts::TenantNotFound {
                tenant: "t{x}".into(),
                discovery: true,
            },
            Aadsts::TenantNotFound {
                tenant: "t".into(),
                discovery: false,
            },
            Aadsts::InvalidTenantName("bad".into()),
            Aadsts::TenantlessAuthority("common".into()),
            Aadsts::ApplicationNotFound {
                client_id: "c".into(),
                tenant: "{tenant}".into(),
            },
            Aadsts::NoCredential,
            Aadsts::TwoCredentials,
            Aadsts::InvalidSecret {
                client_id: "c".into(),
            },
            Aadsts::ExpiredSecret {
                client_id: "c".into(),
            },
            Aadsts::InvalidJwt("detail {x}".into()),
            Aadsts::KeyNotFound {
                thumbprint: "AB".into(),
                client_id: "c".into(),
            },
            Aadsts::BadSignature {
                thumbprint: "AB".into(),
                key_start: t1,
                key_end: t2,
            },
            Aadsts::ExpiredKey {
                thumbprint: "AB".into(),
                key_start: t1,
                key_end: t2,
            },
            Aadsts::WeakRsaKey { bits: 1024 },
            Aadsts::TooManyAudiences(3),
            Aadsts::AudienceMismatch,
            Aadsts::TimeRange {
                now: 1_700_000_000,
                valid_from: 1_700_000_100,
                expires: 1_700_000_200,
            },
            Aadsts::SubjectMismatchesIssuer,
            Aadsts::IssuerMismatchesClient {
                iss: "i".into(),
                client_id: "c".into(),
            },
            Aadsts::ScopeNotDefault("s".into()),
            Aadsts::InvalidScope("s".into()),
            Aadsts::SeveralResources,
            Aadsts::ResourceNotFound {
                resource: "r".into(),
                tenant: "t".into(),
            },
            Aadsts::ServerError("boom".into()),
            Aadsts::UnknownInstance("https://x".into()),
            Aadsts::Overloaded {
                retry_after_secs: 2,
            },
            Aadsts::RedirectUriMismatch {
                redirect_uri: "https://r".into(),
                client_id: "c".into(),
            },
            Aadsts::RedirectUriChanged {
                sent: "a".into(),
                issued: "b".into(),
            },
            Aadsts::PkceMismatch,
            Aadsts::PkceVerifierMissing,
            Aadsts::PkceMethod("md5".into()),
            Aadsts::PkceChallengeSize,
            Aadsts::CodeRedeemed,
            Aadsts::CodeExpired,
            Aadsts::InvalidGrant("the code is {unknown}".into()),
            Aadsts::MalformedGrant,
            Aadsts::RefreshTokenExpired {
                issued: 1_700_000_000,
                inactive_secs: 90 * 86400 + 3661,
            },
            Aadsts::GrantOtherTenant,
            Aadsts::ConsentRequired {
                client_id: "c".into(),
                app_name: "n".into(),
            },
            Aadsts::PublicClientCredential,
            Aadsts::UnsupportedResponseType("token".into()),
            Aadsts::QueryStringTooLong {
                parameter: "state".into(),
                limit: 1,
            },
            Aadsts::LoginRequired,
            Aadsts::UserDeclined,
            Aadsts::UserNotFound {
                upn: "u".into(),
                tenant: "t".into(),
            },
            Aadsts::UserDisabled,
            Aadsts::AuthorizationPending,
            Aadsts::DeviceCodeExpired,
            Aadsts::AuthorizationDeclined,
            Aadsts::BadVerificationCode,
        ]
    }

    #[test]
    fn every_placeholder_has_its_argument() {
        for refusal in all() {
            let row = refusal.row();
            let mut rest = row.text;
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let close = after.find('}').expect("a closed placeholder");
                let name = &after[..close];
                assert!(
                    row.args.iter().any(|(n, _)| *n == name),
                    "{refusal:?}: no argument for {{{name}}}"
                );
                rest = &after[close + 1..];
            }
        }
    }

    #[test]
    fn arguments_are_copied_not_expanded() {
        let e = Aadsts::ApplicationNotFound {
            client_id: "{tenant}".into(),
            tenant: "t".into(),
        };
        assert!(e.message().starts_with(
            "Application with identifier '{tenant}' was not found in the directory 't'."
        ));
    }
}
