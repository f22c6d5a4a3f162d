//! The pages a person sees: plain server-rendered HTML, usable without JavaScript (every
//! step is a form), readable on a phone (one column, the viewport set, large targets), and
//! every control labelled. maud escapes every value put in, so a display name or a `state`
//! from a request can never become markup.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::config::User;
use crate::tokens::display_name;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f3f3f3;color:#1b1b1b}\
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:1.5rem;font-weight:600;margin:0 0 1rem}\
p{line-height:1.5}\
fieldset{border:0;margin:0 0 1rem;padding:0}\
legend{font-weight:600;margin-bottom:.5rem}\
.user{display:flex;align-items:center;gap:.75rem;padding:.75rem;border:1px solid #ccc;margin-bottom:.5rem}\
.user input{width:1.25rem;height:1.25rem;margin:0}\
.user label{flex:1;cursor:pointer}\
.upn{display:block;color:#555;font-size:.9rem;word-break:break-all}\
button{font-size:1rem;padding:.6rem 1.4rem;border:1px solid #0067b8;cursor:pointer;margin:.25rem .5rem .25rem 0}\
button.primary{background:#0067b8;color:#fff}\
button.secondary{background:#fff;color:#0067b8}\
input[type=text]{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box;letter-spacing:.1em}\
.error{border-left:4px solid #a80000;background:#fde7e9;padding:.5rem .75rem}\
.note{color:#555;font-size:.9rem}\
code{word-break:break-all}";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="none";
                title { (title) " – certgen serve" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main { (body) }
            }
        }
    }
}

/// The sign-in page: one radio button per user of the directory.
pub struct SignIn<'a> {
    /// The app the user signs in to (its display name).
    pub app_name: &'a str,
    /// Where the form posts: `/{tenant}/login`.
    pub action: &'a str,
    /// The pending sign-in's id.
    pub ctx: &'a str,
    /// The browser's sign-in cookie, echoed in the form (see `routes::CANARY_COOKIE`).
    pub canary: &'a str,
    pub users: &'a [User],
    /// The user checked first (`login_hint`), else the first.
    pub checked: Option<&'a str>,
    pub error: Option<&'a str>,
    /// For the device-code flow: the page says which device asked.
    pub device: bool,
}

pub fn sign_in(p: &SignIn) -> Markup {
    let checked = p
        .checked
        .and_then(|h| {
            p.users
                .iter()
                .position(|u| u.user_principal_name.eq_ignore_ascii_case(h))
        })
        .unwrap_or(0);
    layout(
        "Sign in",
        html! {
            h1 { "Sign in" }
            p {
                "to continue to " strong { (p.app_name) }
                @if p.device { " on your device" }
            }
            @if let Some(e) = p.error { p.error role="alert" { (e) } }
            @if p.users.is_empty() {
                p.error role="alert" {
                    "This directory has no users. Add [[user]] entries (user_principal_name, \
                     display_name) to the file given with certgen serve --config, then start \
                     the sign-in again."
                }
            } @else {
                form method="post" action=(p.action) {
                    input type="hidden" name="ctx" value=(p.ctx);
                    input type="hidden" name="canary" value=(p.canary);
                    fieldset {
                        legend { "Pick an account" }
                        @for (i, u) in p.users.iter().enumerate() {
                            div.user {
                                input type="radio" name="user" id={"user-" (i)}
                                    value=(u.user_principal_name) checked[i == checked];
                                label for={"user-" (i)} {
                                    (display_name(u))
                                    span.upn { (u.user_principal_name) }
                                }
                            }
                        }
                    }
                    button.primary type="submit" id="signin" name="action" value="signin" { "Sign in" }
                    button.secondary type="submit" id="cancel" name="action" value="cancel" { "Cancel" }
                }
                p.note {
                    "certgen serve is an offline stand-in for Microsoft Entra ID: no password is \
                     asked, and the users are those of its configuration."
                }
            }
        },
    )
}

/// `response_mode=form_post`: a form that posts the answer to the redirect URI, sent on load
/// by a one-line script, or by its button where scripts do not run.
pub fn form_post(redirect_uri: &str, fields: &[(&str, String)]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Working… – certgen serve" }
                style { (PreEscaped(STYLE)) }
            }
            body onload="document.forms[0].submit()" {
                main {
                    form method="post" action=(redirect_uri) {
                        @for (name, value) in fields {
                            input type="hidden" name=(name) value=(value);
                        }
                        noscript {
                            p { "Script is disabled. Press Continue to return to the app." }
                            button.primary type="submit" id="continue" { "Continue" }
                        }
                    }
                }
            }
        }
    }
}

/// Entra's error page for what cannot be sent back to the app (an unregistered redirect URI,
/// an unknown app): the AADSTS text, and the ids a support request quotes.
pub fn error(code: u32, message: &str, trace_id: &str, correlation_id: &str) -> Markup {
    layout(
        "Sign-in error",
        html! {
            h1 { "Sorry, but we’re having trouble signing you in." }
            p.error role="alert" { "AADSTS" (code) ": " (message) }
            p.note {
                "Request Id: " code { (trace_id) } br;
                "Correlation Id: " code { (correlation_id) }
            }
        },
    )
}

/// The device-code page: where the user types the code the device shows.
pub fn device_entry(action: &str, error: Option<&str>) -> Markup {
    layout(
        "Enter code",
        html! {
            h1 { "Enter code" }
            p { "Enter the code displayed on your app or device." }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action=(action) {
                p {
                    label for="user_code" { "Code" }
                    input type="text" id="user_code" name="user_code" autocomplete="off"
                        autocapitalize="characters" spellcheck="false" maxlength="64" required;
                }
                button.primary type="submit" id="next" { "Next" }
            }
        },
    )
}

/// A page that only says something (device signed in, signed out, declined).
pub fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        html! {
            h1 { (title) }
            p { (text) }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_controls_labelled() {
        let users = vec![User {
            id: "u".into(),
            user_principal_name: "a@b.example".into(),
            display_name: Some("<script>x</script>".into()),
            ..User::default()
        }];
        let page = sign_in(&SignIn {
            app_name: "App \"1\"",
            action: "/t/login",
            ctx: "c\"><b>",
            canary: "k",
            users: &users,
            checked: None,
            error: None,
            device: false,
        })
        .into_string();
        assert!(!page.contains("<script>x"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("c\"><b>"));
        assert!(page.contains(r#"<label for="user-0">"#));
        assert!(page.contains(r#"id="user-0""#) && page.contains("checked"));
        let post = form_post("https://app.example/cb", &[("code", "a\"b".into())]).into_string();
        assert!(post.contains(r#"value="a&quot;b""#), "{post}");
        assert!(post.contains(r#"id="continue""#));
    }
}
