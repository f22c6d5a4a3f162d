//! `users_file`: the directory's users as JSON Lines — one Graph user object a line, camelCase
//! as Graph answers `GET /v1.0/users` (properties Graph has and this service does not keep are
//! ignored) — for directories too large to write as `[[user]]` tables.
//!
//! Read a line at a time: the whole file is bounded by [`read::USERS_FILE`] and each line by
//! [`MAX_LINE`], so neither a huge file nor one endless line is held in memory.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::schema::UserEntry;
use crate::error::{Result, ServeError};
use certgen::read;

/// The longest line: a Graph user object is well under 2 KiB.
pub const MAX_LINE: usize = 64 * 1024;

/// One line: a Graph user object (v1.0 `user` resource,
/// https://learn.microsoft.com/graph/api/resources/user).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser {
    id: Option<String>,
    user_principal_name: String,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    mail: Option<String>,
    job_title: Option<String>,
    mobile_phone: Option<String>,
    office_location: Option<String>,
    preferred_language: Option<String>,
    business_phones: Option<Vec<String>>,
}

/// A users file read: each user with the line it is on, and the SHA-256 of the bytes read.
#[derive(Debug)]
pub(super) struct UsersFile {
    pub(super) users: Vec<(usize, UserEntry)>,
    pub(super) digest: [u8; 32],
}

/// The users of `path`.
pub(super) fn read(path: &Path) -> Result<UsersFile> {
    let name = path.display().to_string();
    let file = read::open_regular(path, read::USERS_FILE)
        .map_err(|e| ServeError::Invalid(format!("users_file {}", e.message(&name))))?;
    let mut reader = BufReader::new(file.take(read::USERS_FILE.bytes.saturating_add(1)));
    let mut hash = Sha256::new();
    let mut total: u64 = 0;
    let mut users = Vec::new();
    let mut line = Vec::new();
    for number in 1usize.. {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| {
                ServeError::Invalid(format!(
                    "cannot read users_file {name}: {}",
                    certgen::error::io_reason(&e)
                ))
            })?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(n as u64);
        if total > read::USERS_FILE.bytes {
            return Err(ServeError::Invalid(format!(
                "users_file {name}: {}",
                read::ReadError::TooLarge {
                    limit: read::USERS_FILE
                }
            )));
        }
        hash.update(&line);
        let text = match line.strip_suffix(b"\n") {
            Some(t) => t,
            None if line.len() > MAX_LINE => {
                return Err(ServeError::Invalid(format!(
                    "{name}:{number}: the line is longer than {} KiB, the most one user may take",
                    MAX_LINE / 1024
                )))
            }
            None => &line[..],
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let u: GraphUser = serde_json::from_slice(text).map_err(|e| {
            ServeError::Invalid(format!(
                "{name}:{number}: not a Graph user object with a userPrincipalName ({e})"
            ))
        })?;
        users.push((
            number,
            UserEntry {
                id: u.id,
                user_principal_name: u.user_principal_name,
                display_name: u.display_name,
                given_name: u.given_name,
                surname: u.surname,
                mail: u.mail,
                job_title: u.job_title,
                mobile_phone: u.mobile_phone,
                office_location: u.office_location,
                preferred_language: u.preferred_language,
                business_phones: u.business_phones.unwrap_or_default(),
            },
        ));
    }
    Ok(UsersFile {
        users,
        digest: hash.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_graph_users_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.jsonl");
        std::fs::write(
            &path,
            "{\"userPrincipalName\":\"ada@contoso.example\",\"displayName\":\"Ada\",\
             \"accountEnabled\":true,\"businessPhones\":null}\n\n\
             {\"id\":\"0b6f0c52-1111-4111-8111-000000000001\",\"userPrincipalName\":\"bo@contoso.example\"}",
        )
        .unwrap();
        let users = read(&path).unwrap().users;
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].0, 1);
        assert_eq!(users[0].1.display_name.as_deref(), Some("Ada"));
        assert_eq!(users[1].0, 3);

        std::fs::write(
            &path,
            "{\"userPrincipalName\":\"a@b.c\"}\n{\"displayName\":\"x\"}\n",
        )
        .unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("users.jsonl:2: "), "{e}");

        std::fs::write(&path, "x".repeat(MAX_LINE + 10)).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains(":1: the line is longer than 64 KiB"), "{e}");
    }
}
