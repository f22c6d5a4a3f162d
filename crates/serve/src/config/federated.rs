//! One federated identity credential and Graph's rules for it
//! (<https://learn.microsoft.com/en-us/graph/api/resources/federatedidentitycredential>), shared
//! by the config (`[[app.federated]]`) and Graph's writes, so both refuse the same mistakes
//! with the same words. An [`App`](super::App) holds them as it holds its secrets; the directory
//! keeps them as documents (`directory::objects`) and the exchange matches presented tokens
//! against them (`federation::exchange`).

use serde_json::{json, Value};

/// At most this many per application (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-considerations>).
pub const MAX_PER_APP: usize = 20;
/// `issuer`, `subject`, each audience and `description`: at most this many characters.
pub const MAX_FIELD_CHARS: usize = 600;
/// `name`: 3 to 120 characters.
pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 3..=120;
/// The audience Entra's portal fills in, and the one every workload platform asks for.
pub const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";

/// One credential as the exchange reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    /// Lower-case GUID.
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    /// Exactly one (Graph refuses any other count).
    pub audiences: Vec<String>,
    pub description: Option<String>,
}

impl FederatedCredential {
    /// The object Graph answers (`federatedIdentityCredential`'s v1.0 properties).
    pub fn doc(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "issuer": self.issuer,
            "subject": self.subject,
            "description": self.description,
            "audiences": self.audiences,
        })
    }

    /// Every rule a single credential must meet; the first broken one, in Graph's words where
    /// they are known. UNCONFIRMED texts: Graph's messages for these are not documented; they
    /// follow the documented rules and ARM's wording for user-assigned identities
    /// ("Federated identity credentials must have exactly one audience.").
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        for (what, value) in [("issuer", &self.issuer), ("subject", &self.subject)] {
            if value.trim().is_empty() {
                return Err(format!(
                    "Property '{what}' is required and cannot be empty."
                ));
            }
            too_long(what, value)?;
        }
        if self.audiences.len() != 1 {
            return Err("Federated identity credentials must have exactly one audience.".into());
        }
        for a in &self.audiences {
            if a.trim().is_empty() {
                return Err("Property 'audiences' cannot hold an empty value.".into());
            }
            too_long("audiences", a)?;
        }
        if let Some(d) = &self.description {
            too_long("description", d)?;
        }
        Ok(())
    }
}

fn too_long(what: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n > MAX_FIELD_CHARS {
        return Err(format!(
            "Property '{what}' is too long: {n} characters, at most {MAX_FIELD_CHARS} are allowed."
        ));
    }
    Ok(())
}

/// `name`: 3–120 characters, alphanumerics, `-` and `_`, starting with an alphanumeric
/// (<https://learn.microsoft.com/en-us/graph/api/resources/federatedidentitycredential>).
pub fn check_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !NAME_CHARS.contains(&n) || !first_ok || !rest_ok {
        return Err(format!(
            "Federated identity credential name '{name}' is invalid: use 3 to 120 characters, \
             letters, digits, '-' and '_', starting with a letter or digit."
        ));
    }
    Ok(())
}

/// The (issuer, subject) pair is taken by another credential of the app (case-sensitive, as
/// the exchange matches them).
pub fn pair_taken<'a>(
    held: impl IntoIterator<Item = &'a FederatedCredential>,
    candidate: &FederatedCredential,
) -> bool {
    held.into_iter().any(|h| {
        h.id != candidate.id && h.issuer == candidate.issuer && h.subject == candidate.subject
    })
}

/// Graph's text for a taken (issuer, subject) pair. UNCONFIRMED for Graph: ARM's text for a
/// user-assigned identity is "Issuer and subject combination already exists for this Managed
/// Identity."; the same words with "application".
pub const PAIR_TAKEN: &str = "Issuer and subject combination already exists for this application.";

#[cfg(test)]
mod tests {
    use super::*;

    fn fic(name: &str) -> FederatedCredential {
        FederatedCredential {
            id: "1".into(),
            name: name.into(),
            issuer: "https://issuer.example".into(),
            subject: "repo:o/r:ref:refs/heads/main".into(),
            audiences: vec![DEFAULT_AUDIENCE.into()],
            description: None,
        }
    }

    #[test]
    fn graphs_rules() {
        fic("main-branch_1").check().unwrap();
        for bad in [
            "ab",
            "-abc",
            "_abc",
            "has space",
            "dot.ted",
            "é-abc",
            &"a".repeat(121),
        ] {
            assert!(fic(bad).check().is_err(), "{bad}");
        }
        fic(&"a".repeat(120)).check().unwrap();
        let mut two = fic("two");
        two.audiences.push("api://other".into());
        assert!(two.check().unwrap_err().contains("exactly one audience"));
        let mut long = fic("long");
        long.subject = "s".repeat(601);
        assert!(long.check().unwrap_err().contains("'subject' is too long"));
        long.subject = "s".repeat(600);
        long.check().unwrap();
        let mut other = fic("other");
        other.id = "2".into();
        assert!(pair_taken([&fic("x")], &other));
        other.subject = other.subject.to_uppercase();
        assert!(!pair_taken([&fic("x")], &other), "case-sensitive");
    }
}
