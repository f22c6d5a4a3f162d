//! Users signing in against `certgen serve`, over HTTP as a browser and a web app would:
//! `/authorize` → sign-in page → code → token (secret or certificate), refresh, device code,
//! logout, `/v1.0/me` — and each refusal of the flow made by a client making the mistake.
//! Tokens are checked with jsonwebtoken against the published JWKS and PKCE with RFC 7636's
//! own vector (never with certgen's code). The real-browser run with MSAL Python is
//! `signin_browser.rs`.

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::serve::*;

pub(super) const PUBLIC_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000a1";
pub(super) const REDIRECT: &str = "https://app.contoso.example/getAToken";
pub(super) const ADELE: &str = "adele@contoso.example";
pub(super) const ALEX: &str = "alex@contoso.example";
/// RFC 7636 appendix B.
pub(super) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(super) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The sign-in config: APP is a confidential web app (the fixture's certificate and secret),
/// PUBLIC_APP a public client; two users; Orders.Read consented for APP.
pub(super) fn config() -> PathBuf {
    // Written once: tests run in parallel, and a rewrite while another test's serve reads the
    // file would hand it a half-written config.
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(write_config).clone()
}

fn write_config() -> PathBuf {
    let f = fixture();
    let path = f.dir.join("signin.toml");
    let text = crate::support::toml_fixture(
        "signin.toml",
        &[
            ("ADELE", ADELE),
            ("ALEX", ALEX),
            ("APP", APP),
            ("ORDERS_API", ORDERS_API),
            ("PUBLIC_APP", PUBLIC_APP),
            ("REDIRECT", REDIRECT),
            ("SECRET_VAR", SECRET_VAR),
            ("TENANT", TENANT),
            ("TENANT_DOMAIN", TENANT_DOMAIN),
            ("cert", &f.main.cert_pem.display().to_string()),
        ],
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub(super) fn serve(extra: &[&str]) -> Server {
    let config = config();
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_keys_of(&fixture().state, &args)
}

/// A browser-like client that does not follow redirects (the test reads each one).
pub(super) fn browser(s: &Server) -> reqwest::Client {
    let pem = std::fs::read(s.ready["ca_file"].as_str().unwrap()).unwrap();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap()
}

pub(super) fn authorize_url(s: &Server, params: &[(&str, &str)]) -> String {
    let mut url =
        reqwest::Url::parse(&format!("{}/{TENANT}/oauth2/v2.0/authorize", s.base())).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// `/authorize` with MSAL's parameters ([`web_params`]) and `extra`, by a browser `b`.
pub(super) async fn authorize(
    b: &reqwest::Client,
    s: &Server,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    b.get(authorize_url(s, &web_params(extra)))
        .send()
        .await
        .unwrap()
}

/// The parameters MSAL Python sends, with `extra` added or replacing.
pub(super) fn web_params<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("client_id", APP),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "User.Read openid profile offline_access"),
        ("state", "st4te"),
        ("nonce", "n0nce-sha256-hex"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    p
}

/// The query (or fragment) fields of a redirect's Location.
pub(super) fn location_fields(resp: &reqwest::Response) -> (String, Vec<(String, String)>) {
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(&loc).unwrap();
    let raw = url
        .fragment()
        .map(str::to_string)
        .unwrap_or_else(|| url.query().unwrap_or_default().to_string());
    let fields = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    (loc, fields)
}

pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `name="{name}" value="…"` of a sign-in page.
pub(super) fn hidden(page: &str, name: &str) -> String {
    let at = format!(r#"name="{name}" value=""#);
    let start = page.find(&at).expect("a sign-in form") + at.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

/// A sign-in page as a browser holds it: the form's `ctx` and `canary`, its `action`, and the
/// sign-in cookie the page set (`name=value`).
#[derive(Debug, Clone)]
pub(super) struct SignInForm {
    pub ctx: String,
    pub canary: String,
    pub action: String,
    pub cookie: String,
    pub html: String,
}

pub(super) async fn form_of(page: reqwest::Response) -> SignInForm {
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("certgen_signin="))
        .unwrap_or_default();
    let html = page.text().await.unwrap();
    SignInForm {
        ctx: hidden(&html, "ctx"),
        canary: hidden(&html, "canary"),
        action: {
            let start = html
                .find(r#"<form method="post" action=""#)
                .expect("a form")
                + 28;
            html[start..start + html[start..].find('"').unwrap()].to_string()
        },
        cookie,
        html,
    }
}

/// The form posted as the browser that was shown it would: cookie, ctx and canary, and
/// `fields`.
pub(super) async fn submit(
    b: &reqwest::Client,
    s: &Server,
    f: &SignInForm,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    submit_to(b, s, &f.action, f, fields).await
}

/// The same form, with its cookie and canary, posted to `path` instead of its own action.
pub(super) async fn submit_to(
    b: &reqwest::Client,
    s: &Server,
    path: &str,
    f: &SignInForm,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("ctx", f.ctx.as_str()), ("canary", f.canary.as_str())];
    form.extend_from_slice(fields);
    b.post(format!("{}{path}", s.base()))
        .header("cookie", &f.cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The sign-in page for `params`, then `upn` picked: the redirect back.
pub(super) async fn sign_in(
    s: &Server,
    b: &reqwest::Client,
    params: &[(&str, &str)],
    upn: &str,
) -> reqwest::Response {
    let page = b.get(authorize_url(s, params)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let f = form_of(page).await;
    submit(b, s, &f, &[("user", upn), ("action", "signin")]).await
}

/// A code for ADELE (with `--auto-sign-in`): the `code` of the redirect.
pub(super) async fn code(s: &Server, extra: &[(&str, &str)]) -> String {
    let resp = authorize(&browser(s), s, extra).await;
    assert_eq!(resp.status(), 302);
    let (loc, fields) = location_fields(&resp);
    field(&fields, "code")
        .unwrap_or_else(|| panic!("no code in {loc}"))
        .to_string()
}

pub(super) async fn redeem(s: &Server, code: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("scope", "User.Read openid profile offline_access"),
        ("client_info", "1"),
    ];
    for (k, v) in extra {
        form.retain(|(fk, _)| fk != k);
        if !v.is_empty() {
            form.push((k, v));
        }
    }
    s.post_token(&form).await
}

/// An error sent back to the app's redirect URI: its `error`, the AADSTS code its description
/// starts with, and the request's `state`; the description, for more checks.
fn assert_sent_back(resp: &reqwest::Response, error: &str, code: u32) -> String {
    assert_eq!(resp.status(), 302);
    let (loc, f) = location_fields(resp);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(field(&f, "error"), Some(error), "{loc}");
    assert_eq!(field(&f, "state"), Some("st4te"), "{loc}");
    let d = field(&f, "error_description").unwrap().to_string();
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    d
}

/// The claims of a v2 token (an id_token, or a v2 API's access token) for `aud`, verified.
async fn v2_claims(s: &Server, token: &str, aud: &str) -> Value {
    s.verified(token, aud, &format!("{}/{TENANT}/v2.0", s.base()))
        .await
}

/// The claims of a Graph access token (v1 shape, as Graph's are), verified.
async fn graph_claims(s: &Server, token: &str) -> Value {
    s.verified(
        token,
        "https://graph.microsoft.com",
        &format!("{}/{TENANT}/", s.base()),
    )
    .await
}

/// `/devicecode` for PUBLIC_APP: the JSON answer.
pub(super) async fn start_device_flow(s: &Server, scope: &str) -> Value {
    let (status, dc) = post_form(
        &s.client(),
        &format!("{}/{TENANT}/oauth2/v2.0/devicecode", s.base()),
        &[("client_id", PUBLIC_APP), ("scope", scope)],
    )
    .await;
    assert_eq!(status, 200, "{dc}");
    dc
}

/// One poll of the token endpoint for a device code, as PUBLIC_APP.
pub(super) async fn poll_device(s: &Server, dc: &Value) -> (u16, Value) {
    s.post_token(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", PUBLIC_APP),
        ("device_code", dc["device_code"].as_str().unwrap()),
    ])
    .await
}

#[tokio::test]
async fn web_app_signs_a_user_in_on_the_page_and_redeems_with_a_secret() {
    let s = serve(&[]);
    let b = browser(&s);
    let page = authorize(&b, &s, &[("login_hint", ALEX)]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    for text in [
        "Contoso web app",
        "Adele Vance",
        ADELE,
        "Alex Wilber",
        r#"<label for="user-0">"#,
        r#"<label for="user-1">"#,
    ] {
        assert!(html.contains(text), "{text} in {html}");
    }
    // login_hint checks that user first.
    assert!(
        html.contains(&format!(r#"id="user-1" value="{ALEX}" checked"#)),
        "{html}"
    );

    let resp = sign_in(&s, &b, &web_params(&[]), ADELE).await;
    assert_eq!(resp.status(), 302);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("certgen_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    let (loc, fields) = location_fields(&resp);
    assert!(loc.starts_with(&format!("{REDIRECT}?code=")), "{loc}");
    assert_eq!(field(&fields, "state"), Some("st4te"));

    let (status, body) = redeem(&s, field(&fields, "code").unwrap(), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "User.Read openid profile offline_access");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);

    let id = v2_claims(&s, body["id_token"].as_str().unwrap(), APP).await;
    assert_eq!(id["nonce"], "n0nce-sha256-hex");
    assert_eq!(id["name"], "Adele Vance");
    assert_eq!(id["preferred_username"], ADELE);
    assert_eq!(id["tid"], TENANT);
    assert_eq!(id["ver"], "2.0");
    let oid = id["oid"].as_str().unwrap().to_string();
    assert_ne!(id["sub"], oid, "sub is pairwise, not the object id");

    // Graph's token: v1 shape, delegated.
    let at = graph_claims(&s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["upn"], ADELE);
    assert_eq!(at["oid"], oid);
    assert_eq!(at["appid"], APP);
    assert_eq!(at["appidacr"], "1");
    assert_eq!(at["idtyp"], "user");

    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({"uid": oid, "utid": TENANT}));

    // /me with the delegated token is the user.
    let me = s
        .client()
        .get(format!("{}/v1.0/me", s.base()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["userPrincipalName"], ADELE);
    assert_eq!(me["id"], oid.as_str());
    assert_eq!(me["surname"], "Vance");

    // The session: prompt=none signs the same user in with no page.
    let cookie_pair = cookie.split(';').next().unwrap().to_string();
    let silent = b
        .get(authorize_url(&s, &web_params(&[("prompt", "none")])))
        .header("cookie", &cookie_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(silent.status(), 302);
    assert!(field(&location_fields(&silent).1, "code").is_some());
    // Without one: login_required, sent back to the app.
    let none = authorize(&b, &s, &[("prompt", "none")]).await;
    assert_sent_back(&none, "login_required", 50058);
}

#[tokio::test]
async fn response_modes_form_post_and_fragment() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let b = browser(&s);
    let post = authorize(&b, &s, &[("response_mode", "form_post")]).await;
    assert_eq!(post.status(), 200);
    let html = post.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"<form method="post" action="{REDIRECT}">"#)),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="code" value=""#),
        "{html}"
    );
    assert!(html.contains(r#"name="state" value="st4te""#), "{html}");
    assert!(
        html.contains("<noscript>") && html.contains(r#"id="continue""#),
        "usable without script: {html}"
    );

    let frag = authorize(&b, &s, &[("response_mode", "fragment")]).await;
    assert_eq!(frag.status(), 302);
    let loc = frag.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with(&format!("{REDIRECT}#code=")), "{loc}");
}

#[tokio::test]
async fn a_certificate_redeems_the_code_like_a_daemon_assertion() {
    let s = serve(&["--auto-sign-in", ALEX]);
    let c = code(&s, &[]).await;
    let jwt = rs256(&s, &fixture().main);
    let (status, body) = redeem(
        &s,
        &c,
        &[
            ("client_secret", ""),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let at = graph_claims(&s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["appidacr"], "2", "a certificate");
    assert_eq!(at["upn"], ALEX);
}

#[tokio::test]
async fn refresh_gives_a_new_refresh_token_and_another_resource() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let (_, first) = redeem(&s, &code(&s, &[]).await, &[]).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let refresh = |rt: String, scope: &'static str| {
        let s = &s;
        async move {
            s.post_token(&[
                ("grant_type", "refresh_token"),
                ("client_id", APP),
                ("client_secret", SECRET),
                ("refresh_token", &rt),
                ("scope", scope),
            ])
            .await
        }
    };
    let (status, second) = refresh(
        rt1.to_string(),
        "api://orders/Orders.Read openid offline_access",
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "a new refresh token each time");
    assert_eq!(
        second["scope"],
        "api://orders/Orders.Read openid profile offline_access"
    );
    let at = v2_claims(&s, second["access_token"].as_str().unwrap(), ORDERS_API).await;
    assert_eq!(at["scp"], "Orders.Read");
    assert_eq!(at["preferred_username"], ADELE);
    assert_eq!(at["azp"], APP);
    // The old one is not revoked (Entra's behaviour).
    assert_eq!(refresh(rt1.to_string(), "User.Read").await.0, 200);
    // A scope the app was not consented for: 65001, with MSAL's suberror.
    let got = refresh(rt2.to_string(), "api://orders/Orders.Write").await;
    assert_refusal(&got, 400, "invalid_grant", 65001);
    assert_eq!(got.1["suberror"], "consent_required");
    // A made-up refresh token is refused, never answered with a token.
    assert_refusal(
        &refresh("bogus".into(), "User.Read").await,
        400,
        "invalid_grant",
        9002313,
    );
}

#[tokio::test]
async fn unregistered_redirect_uri_is_an_error_page_50011() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let resp = authorize(
        &browser(&s),
        &s,
        &[("redirect_uri", "https://evil.example/cb")],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers().get("location").is_none(),
        "never sent to an unregistered URI"
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("AADSTS50011: The redirect URI &#39;https://evil.example/cb&#39;")
            || html.contains("AADSTS50011: The redirect URI 'https://evil.example/cb'"),
        "{html}"
    );
    assert!(html.contains(APP));
}

#[tokio::test]
async fn pkce_verifier_wrong_50148_and_missing_501481() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let c = code(&s, &[]).await;
    let wrong = redeem(
        &s,
        &c,
        &[(
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
        )],
    )
    .await;
    assert_refusal(&wrong, 400, "invalid_grant", 50148);
    let missing = redeem(&s, &c, &[("code_verifier", "")]).await;
    assert_refusal(&missing, 400, "invalid_grant", 501481);
    // Neither spent the code.
    assert_eq!(redeem(&s, &c, &[]).await.0, 200);
}

#[tokio::test]
async fn code_redeemed_twice_54005() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let c = code(&s, &[]).await;
    assert_eq!(redeem(&s, &c, &[]).await.0, 200);
    assert_refusal(&redeem(&s, &c, &[]).await, 400, "invalid_grant", 54005);
}

#[tokio::test]
async fn code_expired_70008_and_refresh_token_expired_700082() {
    // Two services, so the code that must still be good is not raced by its own 1 s limit.
    let short_codes = serve(&["--auto-sign-in", ADELE, "--code-lifetime", "1"]);
    let short_refresh = serve(&["--auto-sign-in", ADELE, "--refresh-token-lifetime", "1"]);
    let late = code(&short_codes, &[]).await;
    let (status, body) = redeem(&short_refresh, &code(&short_refresh, &[]).await, &[]).await;
    assert_eq!(status, 200, "{body}");
    // Time itself is what is tested here, in the service's own process: a code cannot be polled
    // (a redeem before its end spends it), so the test waits out the 1 s lifetimes.
    std::thread::sleep(Duration::from_millis(2100));
    assert_refusal(
        &redeem(&short_codes, &late, &[]).await,
        400,
        "invalid_grant",
        70008,
    );
    let got = short_refresh
        .post_token(&[
            ("grant_type", "refresh_token"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_refusal(&got, 400, "invalid_grant", 700082);
    assert_eq!(got.1["suberror"], "bad_token");
    let d = got.1["error_description"].as_str().unwrap();
    assert!(
        d.contains("The refresh token has expired due to inactivity.")
            && d.contains("and was inactive for 0.00:00:0"),
        "{d}"
    );
}

#[tokio::test]
async fn unconsented_scope_65001_at_authorize() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let resp = authorize(&browser(&s), &s, &[("scope", "openid Mail.Read")]).await;
    let d = assert_sent_back(&resp, "consent_required", 65001);
    assert!(d.starts_with(&format!("AADSTS65001: The user or administrator has not consented to use the application with ID '{APP}' named 'Contoso web app'.")), "{d}");
}

#[tokio::test]
async fn public_client_with_a_secret_700025() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let resp = authorize(
        &browser(&s),
        &s,
        &[
            ("client_id", PUBLIC_APP),
            ("redirect_uri", "http://localhost:53100"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 302, "a loopback URI matches on any port");
    let (_, f) = location_fields(&resp);
    let c = field(&f, "code").unwrap();
    let with_secret = redeem(
        &s,
        c,
        &[
            ("client_id", PUBLIC_APP),
            ("redirect_uri", "http://localhost:53100"),
            ("client_secret", "anything"),
        ],
    )
    .await;
    assert_refusal(&with_secret, 401, "invalid_client", 700025);
    let (status, body) = redeem(
        &s,
        c,
        &[
            ("client_id", PUBLIC_APP),
            ("redirect_uri", "http://localhost:53100"),
            ("client_secret", ""),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let at = graph_claims(&s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["appidacr"], "0", "a public client");
}

#[tokio::test]
async fn missing_parameters_900144_and_two_credentials_90014() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let c = code(&s, &[]).await;
    assert_refusal(
        &redeem(&s, &c, &[("code", "")]).await,
        400,
        "invalid_request",
        900144,
    );
    assert!(
        redeem(&s, &c, &[("redirect_uri", "")]).await.1["error_description"]
            .as_str()
            .unwrap()
            .contains("'redirect_uri'")
    );
    let jwt = rs256(&s, &fixture().main);
    let both = redeem(
        &s,
        &c,
        &[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    assert_refusal(&both, 400, "invalid_request", 90014);
    // At /authorize, after the redirect URI is trusted, a missing parameter goes back to the app.
    let resp = authorize(&browser(&s), &s, &[("response_type", "")]).await;
    assert_sent_back(&resp, "invalid_request", 900144);
}

#[tokio::test]
async fn device_code_flow_on_its_page() {
    let s = serve(&[]);
    let b = browser(&s);
    let dc = start_device_flow(&s, "User.Read openid profile offline_access").await;
    assert_eq!(dc["verification_uri"], format!("{}/devicelogin", s.base()));
    assert_eq!(dc["expires_in"], 900);
    assert_eq!(dc["interval"], 5);
    assert!(dc.get("verification_uri_complete").is_none());
    let user_code = dc["user_code"].as_str().unwrap();
    assert!(dc["message"].as_str().unwrap().contains(user_code));
    let poll = || poll_device(&s, &dc);
    assert_refusal(&poll().await, 400, "authorization_pending", 70016);

    let entry = b
        .get(format!("{}/devicelogin", s.base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(entry.contains(r#"<label for="user_code">"#), "{entry}");
    let wrong = b
        .post(format!("{}/devicelogin", s.base()))
        .form(&[("user_code", "NOTACODE1")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("That code didn"));
    // Typed in lower case with a dash, as people do.
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    let page = b
        .post(format!("{}/devicelogin", s.base()))
        .form(&[("user_code", typed.as_str())])
        .send()
        .await
        .unwrap();
    let f = form_of(page).await;
    let done = submit(&b, &s, &f, &[("user", ALEX), ("action", "signin")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        done.contains("You have signed in to the Contoso CLI application on your device"),
        "{done}"
    );
    let (status, body) = poll().await;
    assert_eq!(status, 200, "{body}");
    let id = v2_claims(&s, body["id_token"].as_str().unwrap(), PUBLIC_APP).await;
    assert_eq!(id["preferred_username"], ALEX);
    assert!(body["refresh_token"].is_string());
    // Once only.
    assert_refusal(&poll().await, 400, "invalid_grant", 70000);
}

#[tokio::test]
async fn device_code_declined_on_the_page() {
    let s = serve(&[]);
    let b = browser(&s);
    let dc = start_device_flow(&s, "User.Read").await;
    let page = b
        .post(format!("{}/devicelogin", s.base()))
        .form(&[("user_code", dc["user_code"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let f = form_of(page).await;
    submit(&b, &s, &f, &[("action", "cancel")]).await;
    assert_refusal(
        &poll_device(&s, &dc).await,
        400,
        "authorization_declined",
        70000,
    );
}

#[tokio::test]
async fn cancel_on_the_sign_in_page_returns_access_denied() {
    let s = serve(&[]);
    let b = browser(&s);
    let page = authorize(&b, &s, &[]).await;
    let f = form_of(page).await;
    let resp = submit(&b, &s, &f, &[("action", "cancel")]).await;
    assert_sent_back(&resp, "access_denied", 65004);
}

#[tokio::test]
async fn logout_and_end_session_endpoints() {
    let s = serve(&[]);
    for doc in [
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            s.base()
        ),
        format!("{}/{TENANT}/.well-known/openid-configuration", s.base()),
    ] {
        let d = s.get_json(&doc).await;
        let end = d["end_session_endpoint"].as_str().unwrap().to_string();
        let resp = browser(&s)
            .get(format!("{end}?post_logout_redirect_uri={REDIRECT}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302, "{end}");
        assert_eq!(resp.headers()["location"], REDIRECT);
        assert!(resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
    }
    let resp = browser(&s)
        .get(format!(
            "{}/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri=https://evil.example/",
            s.base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "not redirected to an unregistered URI");
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("You signed out of your account"));
}

/// The Content-Security-Policy of a response.
fn csp(resp: &reqwest::Response) -> String {
    resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn sign_in_form_posts_only_to_known_routes_and_unknown_tenants_are_90002() {
    let s = serve(&[]);
    let b = browser(&s);
    let page = authorize(&b, &s, &[]).await;
    // The sign-in page's forms may post here, and its answer redirect to the app only.
    let policy = csp(&page);
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self' https://app.contoso.example",
    ] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    let f = form_of(page).await;
    assert_eq!(f.action, format!("/{TENANT}/login"));
    let unknown_user = &[("user", "nobody@contoso.example"), ("action", "signin")];

    // The path's tenant, percent-encoded into `//evil.example`: Entra's unknown-tenant page,
    // and no form at all.
    for path in ["/%2Fevil.example/login", "/nosuch.example/login"] {
        let resp = submit_to(&b, &s, path, &f, unknown_user).await;
        assert_eq!(resp.status(), 400, "{path}");
        assert!(csp(&resp).contains("form-action 'self'"), "{path}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("AADSTS90002"), "{path}: {html}");
        assert!(!html.contains("<form"), "{path}: {html}");
        assert!(!html.contains("evil.example/login"), "{path}: {html}");
    }
    // Through the tenant's domain, an unknown user: the form again, posting to the route
    // built from the tenant's id, not from the URL.
    let resp = submit_to(&b, &s, &format!("/{TENANT_DOMAIN}/login"), &f, unknown_user).await;
    assert_eq!(resp.status(), 400);
    let again = form_of(resp).await;
    assert!(again.html.contains("AADSTS50034"), "{}", again.html);
    assert_eq!(again.action, format!("/{TENANT}/login"));
    // The sign-in still completes.
    let done = submit(&b, &s, &f, &[("user", ADELE), ("action", "signin")]).await;
    assert_eq!(done.status(), 302);
    assert!(field(&location_fields(&done).1, "code").is_some());
}

#[tokio::test]
async fn form_post_page_may_post_to_the_apps_origin_only() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let b = browser(&s);
    let post = authorize(&b, &s, &[("response_mode", "form_post")]).await;
    assert_eq!(post.status(), 200);
    let policy = csp(&post);
    assert!(
        policy.contains("form-action https://app.contoso.example")
            && !policy.contains("'self'")
            && policy.contains("default-src 'none'")
            && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    // A loopback app on the port of the moment: that origin, port included.
    let post = authorize(
        &b,
        &s,
        &[
            ("client_id", PUBLIC_APP),
            ("redirect_uri", "http://localhost:53111"),
            ("response_mode", "form_post"),
        ],
    )
    .await;
    assert!(
        csp(&post).contains("form-action http://localhost:53111"),
        "{}",
        csp(&post)
    );
    // Pages that only say something may post nowhere but here.
    let err = authorize(&b, &s, &[("redirect_uri", "https://evil.example/cb")]).await;
    assert!(csp(&err).contains("form-action 'self'"), "{}", csp(&err));
}

#[tokio::test]
async fn sign_in_post_without_the_browsers_cookie_is_refused() {
    let s = serve(&[]);
    let victim = browser(&s);
    let page = authorize(&victim, &s, &[]).await;
    let set = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("certgen_signin="))
        .expect("the sign-in cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"),
        "{set}"
    );
    let f = form_of(page).await;
    assert!(!f.canary.is_empty());
    assert!(
        f.cookie.ends_with(&f.canary),
        "{} vs {}",
        f.cookie,
        f.canary
    );
    // Another browser (the attacker's) with its own page, cookie and canary.
    let attacker = form_of(authorize(&browser(&s), &s, &[]).await).await;
    assert_ne!(attacker.canary, f.canary);

    let refused = |resp: reqwest::Response, why: &'static str| async move {
        assert_eq!(resp.status(), 400, "{why}");
        assert!(resp.headers().get("location").is_none(), "{why}");
        assert!(
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("certgen_session=")),
            "{why}: no session"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("was not sent from its page"), "{why}: {html}");
        assert!(!html.contains("code="), "{why}: {html}");
    };
    let post = |cookie: Option<&str>, canary: Option<&str>| {
        let mut form = vec![
            ("ctx", f.ctx.clone()),
            ("user", ALEX.to_string()),
            ("action", "signin".to_string()),
        ];
        if let Some(c) = canary {
            form.push(("canary", c.to_string()));
        }
        let mut req = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only([reqwest::Certificate::from_pem(
                &std::fs::read(s.ready["ca_file"].as_str().unwrap()).unwrap(),
            )
            .unwrap()])
            .build()
            .unwrap()
            .post(format!("{}{}", s.base(), f.action))
            .form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    // A cross-site POST: the form's fields (ctx and canary read off the page), no cookie.
    refused(post(None, Some(&f.canary)).await.unwrap(), "no cookie").await;
    // The attacker's own cookie and canary with the victim's ctx.
    refused(
        post(Some(&attacker.cookie), Some(&attacker.canary))
            .await
            .unwrap(),
        "another browser's cookie",
    )
    .await;
    // The cookie without the field, and a wrong field.
    refused(post(Some(&f.cookie), None).await.unwrap(), "no field").await;
    refused(
        post(Some(&f.cookie), Some(&attacker.canary)).await.unwrap(),
        "another canary",
    )
    .await;
    // The victim's own browser still signs in, with its pending sign-in intact.
    let done = submit(&victim, &s, &f, &[("user", ADELE), ("action", "signin")]).await;
    assert_eq!(done.status(), 302);
    let (_, fields) = location_fields(&done);
    let (status, body) = redeem(&s, field(&fields, "code").unwrap(), &[]).await;
    assert_eq!(status, 200, "{body}");
    // A second page in the same browser keeps the browser's cookie: two tabs both work.
    let first = form_of(authorize(&victim, &s, &[]).await).await;
    let second = victim
        .get(authorize_url(&s, &web_params(&[])))
        .header("cookie", &first.cookie)
        .send()
        .await
        .unwrap();
    let second = form_of(second).await;
    assert_eq!(second.canary, first.canary);
    for tab in [&first, &second] {
        let r = submit(&victim, &s, tab, &[("user", ADELE), ("action", "signin")]).await;
        assert_eq!(r.status(), 302);
    }
}

/// Forms of a loopback redirect URI that a URL parser forgives and Entra refuses.
const BAD_LOOPBACK_REDIRECTS: &[(&str, &str)] = &[
    ("http://localhost:53120#frag", "fragment"),
    ("http://localhost:53120/#", "fragment"),
    ("http://user@localhost:53120", "user name"),
    ("http://user:pw@localhost:53120", "user name"),
    ("http:localhost:53120", "//"),
    ("http:/localhost:53120", "//"),
    ("http://local\thost:53120", "control character"),
    ("http://localhost:53120\t", "control character"),
    ("http://localhost:53120/\n", "control character"),
];

#[tokio::test]
async fn malformed_loopback_redirect_uris_are_50011_at_authorize() {
    let s = serve(&["--auto-sign-in", ADELE]);
    let b = browser(&s);
    // The well-formed one works on any port.
    let ok = authorize(
        &b,
        &s,
        &[
            ("client_id", PUBLIC_APP),
            ("redirect_uri", "http://localhost:53120"),
        ],
    )
    .await;
    assert_eq!(ok.status(), 302);
    for (uri, _) in BAD_LOOPBACK_REDIRECTS {
        let resp = authorize(&b, &s, &[("client_id", PUBLIC_APP), ("redirect_uri", uri)]).await;
        assert_eq!(resp.status(), 400, "{uri:?}");
        assert!(resp.headers().get("location").is_none(), "{uri:?}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("AADSTS50011"), "{uri:?}: {html}");
    }
}

#[test]
fn malformed_redirect_uris_in_the_config_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut registered: Vec<(&str, &str)> = BAD_LOOPBACK_REDIRECTS.to_vec();
    registered.push(("https://app.contoso.example/cb#x", "fragment"));
    registered.push(("https://user@app.contoso.example/cb", "user name"));
    for (i, (uri, why)) in registered.iter().enumerate() {
        let config = dir.path().join(format!("c{i}.toml"));
        let uri_toml = serde_json::to_string(uri).unwrap();
        std::fs::write(
            &config,
            format!(
                "[[tenant]]\nid = \"{TENANT}\"\n\n[[app]]\nclient_id = \"{PUBLIC_APP}\"\n\
                 display_name = \"x\"\npublic_client = true\nredirect_uris = [{uri_toml}]\n"
            ),
        )
        .unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_certgen"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path().join(format!("state{i}")))
            .arg("--config")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A service that accepted the URI would serve until stopped: bounded, then stopped.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if child.try_wait().unwrap().is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{uri:?} was accepted: {stderr}");
        assert!(out.stdout.is_empty(), "{uri:?}: no ready line");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: ") && first.contains("redirect URI") && first.contains(why),
            "{uri:?}: {stderr}"
        );
        assert!(
            !first.contains('\t') && !first.contains('\r'),
            "control characters are escaped: {first:?}"
        );
    }
}
