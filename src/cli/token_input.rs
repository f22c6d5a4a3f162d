//! The token a command is given: an argument, or stdin for `-`/nothing, in any of the forms
//! `certgen token` prints (`--output token|header|json`), so its output pipes into `decode`
//! and `verify` whichever form was chosen.

use std::io::IsTerminal;

use certgen::read;

use super::error::{CliError as Error, Result};
use serde_json::Value;

/// Reads the token of `arg` (stdin for `-` or nothing); `usage` is the hint when neither an
/// argument nor a piped stdin gives one.
pub fn read_token(arg: Option<&str>, usage: &str) -> Result<String> {
    let text = match arg {
        Some(t) if t != "-" => t.to_string(),
        _ => {
            if arg.is_none() && std::io::stdin().is_terminal() {
                return Err(Error::usage("no token: give it as an argument or on stdin")
                    .with_hint(usage.to_string()));
            }
            let bytes = read::stdin(read::TOKEN).map_err(|e| e.into_error("stdin"))?;
            String::from_utf8(bytes)
                .map_err(|_| Error::failure("the token on stdin is not UTF-8 text"))?
        }
    };
    token_in(&text)
}

/// The token alone, from `Authorization: Bearer …` (`--output header`) or the JSON document
/// (`--output json`, or a token endpoint's answer); any other text is taken as the token.
fn token_in(text: &str) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        let doc: Value = serde_json::from_str(trimmed).map_err(|e| {
            Error::failure(format!("the input is not a token and not valid JSON ({e})"))
        })?;
        return match doc.get("access_token").and_then(Value::as_str) {
            Some(t) => Ok(t.to_string()),
            None => Err(Error::failure(
                "the JSON input has no \"access_token\" string: not a token response or the \
                 output of certgen token --output json",
            )),
        };
    }
    let header = "authorization:";
    if let Some((name, rest)) = trimmed.split_at_checked(header.len()) {
        if name.eq_ignore_ascii_case(header) {
            return Ok(rest.trim().to_string());
        }
    }
    Ok(trimmed.to_string())
}
