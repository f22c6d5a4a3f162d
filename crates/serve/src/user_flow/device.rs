//! The device-code flow (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code>): `POST /{tenant}/oauth2/v2.0/devicecode`
//! hands a device a code to show; the user types it on `/devicelogin` (any browser), signs
//! in, and the device's polls of the token endpoint then succeed.

use serde_json::{json, Value};

use super::kept::Handle;
use super::scopes;
use super::{DeviceGrant, DeviceState, DEVICE_CODE_INTERVAL_SECS, DEVICE_CODE_LIFETIME_SECS};
use crate::aadsts::Aadsts;
use crate::service::TokenService;

/// The path of the page where the user enters the code.
pub const PAGE_PATH: &str = "/devicelogin";

/// Starts a device flow: the JSON answer of `/devicecode` (no `verification_uri_complete`,
/// as Entra).
pub fn start(
    service: &TokenService,
    tenant_segment: &str,
    form: &[(String, String)],
    base: &str,
    now: i64,
) -> Result<Value, Aadsts> {
    let (tenant, view) = super::authorize::client(service, tenant_segment, form)?;
    let app = &view.app;
    let scope = super::authorize::param(form, "scope")
        .filter(|v| !v.is_empty())
        .ok_or(Aadsts::MissingParameter("scope"))?;
    let scope = scopes::parse(&service.directory, app, scope, &tenant.id)?;
    let user_code = super::store::user_code();
    let expires = now.saturating_add(DEVICE_CODE_LIFETIME_SECS);
    let device_code = service.flows.devices.insert(
        &DeviceGrant {
            client_id: app.client_id.clone(),
            tenant_id: tenant.id.clone(),
            scope,
            user_code: user_code.clone(),
            expires,
            state: DeviceState::Pending,
        },
        expires.saturating_add(super::REMEMBER_ENDED_SECS),
        now,
    )?;
    let uri = format!("{base}{PAGE_PATH}");
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": DEVICE_CODE_LIFETIME_SECS,
        "interval": DEVICE_CODE_INTERVAL_SECS,
        "message": format!(
            "To sign in, use a web browser to open the page {uri} and enter the code \
             {user_code} to authenticate."
        ),
    }))
}

/// The device code waiting for the user code typed on the page (spaces, dashes and case
/// forgiven), or what to tell the person.
pub fn find(
    service: &TokenService,
    typed: &str,
    now: i64,
) -> Result<(Handle, DeviceGrant), &'static str> {
    let typed: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if typed.is_empty() {
        return Err("Enter the code your device shows.");
    }
    let found = service
        .flows
        .devices
        .find(now, |d| d.user_code == typed)
        .map_err(|_| UNAVAILABLE)?
        .ok_or("That code didn't work. Check the code and try again.")?;
    if found.1.expires <= now {
        return Err("That code has expired. Start again on your device to get a new one.");
    }
    if found.1.state != DeviceState::Pending {
        return Err("That code was used already. Start again on your device to get a new one.");
    }
    Ok(found)
}

/// What the device page says when the sign-in state cannot be read (the database failing).
pub const UNAVAILABLE: &str =
    "The service cannot read its sign-in state just now (its database is unavailable). Try again in a moment.";

/// Records the user's answer on the device code: approved by `user_id`, or declined.
pub fn answer(
    service: &TokenService,
    device: &Handle,
    user_id: Option<&str>,
    now: i64,
) -> Result<bool, Aadsts> {
    Ok(service
        .flows
        .devices
        .update(device, now, |d| {
            if d.state != DeviceState::Pending || d.expires <= now {
                return false;
            }
            d.state = match user_id {
                Some(u) => DeviceState::Approved {
                    user_id: u.to_string(),
                },
                None => DeviceState::Declined,
            };
            true
        })?
        .unwrap_or(false))
}
