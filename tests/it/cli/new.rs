//! `certgen new`: every file it writes is re-read by the openssl CLI, every printed value is
//! compared with what openssl says about the files, and every refusal leaves the folder as it was.
//! Also the global command-line surface (--version, help, completions).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use crate::support::*;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn new_in(dir: &Path, args: &[&str]) -> Output {
    certgen()
        .arg("new")
        .arg("--out")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn x509_text(cert: &Path) -> String {
    openssl(&["x509", "-in", p(cert), "-noout", "-text"])
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn rfc3339(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

/// The RSA modulus openssl reads from a certificate (`x509`) or a key (`rsa`).
fn modulus(kind: &str, file: &Path, extra: &[&str]) -> String {
    let mut args = vec![kind, "-in", p(file), "-noout", "-modulus"];
    args.extend(extra);
    openssl(&args).trim().to_string()
}

/// Asserts the profile of the spec on a certificate, through `openssl x509 -text`.
fn assert_profile(cert: &Path, bits: u32, days: i64) {
    let text = x509_text(cert);
    let has = |s: &str| assert!(text.contains(s), "missing {s:?} in\n{text}");
    has("Version: 3 (0x2)");
    assert_eq!(
        text.matches("Signature Algorithm: sha256WithRSAEncryption")
            .count(),
        2
    );
    has("Public Key Algorithm: rsaEncryption");
    has(&format!("Public-Key: ({bits} bit)"));
    has("X509v3 Basic Constraints: critical\n                CA:FALSE\n");
    has("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n");
    has("X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n");
    has("X509v3 Subject Key Identifier: \n");

    // Serial: positive and 128 bits (32 hex digits, top bit clear).
    let serial = openssl_serial(cert);
    assert_eq!(serial.len(), 32, "serial {serial}");
    assert!(u8::from_str_radix(&serial[..2], 16).unwrap() < 0x80);

    let (nb, na) = openssl_dates(cert);
    let (nb, na) = (rfc3339(&nb), rfc3339(&na));
    assert_eq!(
        na - nb,
        time::Duration::days(days),
        "notAfter - notBefore = --days"
    );
    let lag = OffsetDateTime::now_utc() - nb;
    assert!(
        lag >= time::Duration::minutes(5) && lag < time::Duration::minutes(7),
        "notBefore is now - 5 min, got now - {lag}"
    );
}

#[test]
fn default_files_profile_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = stdout(&new_in(d, &["--cn", "test daemon", "--days", "30"]));
    assert_eq!(
        listing(d),
        ["test-daemon.cer", "test-daemon.crt", "test-daemon.key"]
    );
    let (crt, cer, key) = (
        d.join("test-daemon.crt"),
        d.join("test-daemon.cer"),
        d.join("test-daemon.key"),
    );
    assert_profile(&crt, 2048, 30);
    let text = x509_text(&crt);
    assert!(text.contains("Subject: CN = test daemon\n"), "{text}");
    assert!(
        text.contains("Issuer: CN = test daemon\n"),
        "self-signed: {text}"
    );
    assert!(
        !text.contains("Subject Alternative Name"),
        "SAN only with --san"
    );
    // Self-signed means openssl verifies it against itself.
    let verified = openssl(&["verify", "-CAfile", p(&crt), "-partial_chain", p(&crt)]);
    assert!(verified.contains(": OK"), "{verified}");

    // The .cer is the DER of the same certificate.
    let der = openssl_output(&["x509", "-outform", "DER", "-in", p(&crt)]).stdout;
    assert_eq!(std::fs::read(&cer).unwrap(), der);

    // The key: unencrypted PKCS#8, 0600, the private half of the certificate.
    let key_pem = std::fs::read_to_string(&key).unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(modulus("rsa", &key, &[]), modulus("x509", &crt, &[]));
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&crt) & 0o077, 0o044, "the certificate is public");

    // What is printed is what openssl says about the files.
    let expected = openssl_thumbprints(&crt);
    assert_eq!(expected, openssl_thumbprints(&cer));
    let (nb, na) = openssl_dates(&crt);
    let line = |label: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {out}"))
            .to_string()
    };
    assert_eq!(line("subject "), "subject     CN=test daemon");
    assert_eq!(
        line("serial "),
        format!("serial      {}", openssl_serial(&crt))
    );
    assert!(line("valid ").starts_with(&format!("valid       {nb} to {na} (valid, expires in ")));
    assert_eq!(line("key "), "key         RSA 2048");
    let value = |label: &str| line(label).split_whitespace().last().unwrap().to_string();
    assert_eq!(value("thumbprint    (portal, MSAL)"), expected.sha1);
    assert_eq!(value("thumbprint_sha256"), expected.sha256);
    assert_eq!(value("x5t           (JWT header, RS256)"), expected.x5t);
    assert_eq!(
        value("x5t#S256      (JWT header, PS256)"),
        expected.x5t_s256
    );
    for (file, what) in [
        (&crt, "certificate, PEM"),
        (&cer, "certificate, DER: upload this one"),
        (&key, "private key, PKCS#8 (0600): keep it secret"),
    ] {
        let l = line(&format!("  {}", file.display()));
        assert!(l.ends_with(what), "{l}");
    }
    assert_eq!(
        out.lines().last().unwrap(),
        format!(
            "next: upload {} in App registrations → Certificates & secrets → Certificates",
            cer.display()
        )
    );
}

#[test]
fn json_has_exactly_the_spec_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = stdout(&new_in(d, &["--cn", "json-app", "--json"]));
    let doc: Value = serde_json::from_str(&out).expect("stdout is exactly one JSON document");
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "subject",
            "serial",
            "not_before",
            "not_after",
            "key",
            "thumbprint",
            "thumbprint_sha256",
            "x5t",
            "x5t_s256",
            "files"
        ]
    );
    let crt = d.join("json-app.crt");
    let expected = openssl_thumbprints(&crt);
    let (nb, na) = openssl_dates(&crt);
    assert_eq!(doc["subject"], "CN=json-app");
    assert_eq!(doc["serial"], openssl_serial(&crt));
    assert_eq!(doc["not_before"], nb);
    assert_eq!(doc["not_after"], na);
    assert_eq!(doc["key"], "RSA 2048");
    assert_eq!(doc["thumbprint"], expected.sha1);
    assert_eq!(doc["thumbprint_sha256"], expected.sha256);
    assert_eq!(doc["x5t"], expected.x5t);
    assert_eq!(doc["x5t_s256"], expected.x5t_s256);
    assert_eq!(
        doc["files"],
        serde_json::json!({
            "cert": crt.display().to_string(),
            "der": d.join("json-app.cer").display().to_string(),
            "key": d.join("json-app.key").display().to_string(),
            "pfx": null,
            "pem": null,
            "csr": null,
        })
    );
    assert_profile(&crt, 2048, 365);
}

#[test]
fn san_appears_only_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&new_in(
        dir.path(),
        &[
            "--cn",
            "api",
            "--san",
            "api.contoso.com",
            "--san",
            "127.0.0.1",
        ],
    ));
    let text = x509_text(&dir.path().join("api.crt"));
    assert!(
        text.contains("X509v3 Subject Alternative Name: \n                DNS:api.contoso.com, IP Address:127.0.0.1\n"),
        "{text}"
    );
}

#[test]
fn key_size_3072() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&new_in(
        dir.path(),
        &["--key-size", "3072", "--days", "1", "--json"],
    ));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["key"], "RSA 3072");
    assert_profile(&dir.path().join("certgen.crt"), 3072, 1);
}

// The one 4096-bit test (generation takes seconds), run on a terminal: that is where the
// spec wants a progress line on stderr.
#[test]
fn key_size_4096_at_the_longest_validity_shows_progress_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let Some((code, screen)) = certgen_on_terminal(
        dir.path(),
        &["new", "--key-size", "4096", "--days", "3650"],
        &[],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.starts_with("generating an RSA 4096 key "),
        "{screen}"
    );
    assert!(screen.contains(" done\n"), "{screen}");
    assert!(screen.contains("\nkey         RSA 4096\n"), "{screen}");
    assert_profile(&dir.path().join("certgen.crt"), 4096, 3650);
}

fn pkcs12_info(pfx: &Path, pass: &str, legacy: bool) -> String {
    let mut args = vec!["pkcs12", "-info", "-noout", "-in", p(pfx), "-passin", pass];
    if legacy {
        args.push("-legacy");
    }
    let out = openssl_output(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // openssl 3.0 prints the -info lines on stderr.
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The PKCS#12 holds the same certificate and key as the .crt and .key.
fn assert_pkcs12_pairs(d: &Path, base: &str, pass: &str, legacy: bool) {
    let pfx = d.join(format!("{base}.pfx"));
    assert_eq!(mode(&pfx), 0o600);
    let certs = openssl_pkcs12_certs(&pfx, pass.trim_start_matches("pass:"), legacy);
    assert_eq!(
        openssl_thumbprints_of_pem_text(&certs),
        vec![openssl_thumbprints(&d.join(format!("{base}.crt")))]
    );
    let mut args = vec![
        "pkcs12",
        "-in",
        p(&pfx),
        "-nocerts",
        "-nodes",
        "-passin",
        pass,
    ];
    if legacy {
        args.push("-legacy");
    }
    let key_pem = openssl(&args);
    let key_file = d.join("extracted.key");
    std::fs::write(&key_file, key_pem).unwrap();
    assert_eq!(
        modulus("rsa", &key_file, &[]),
        modulus("x509", &d.join(format!("{base}.crt")), &[])
    );
    std::fs::remove_file(key_file).unwrap();
}

#[test]
fn pfx_is_modern_pkcs12_openssl_opens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = write_password(d);
    let out = stdout(&new_in(
        d,
        &[
            "--cn",
            "p",
            "--pfx",
            "--password-file",
            pw.to_str().unwrap(),
            "--json",
        ],
    ));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["files"]["pfx"], d.join("p.pfx").display().to_string());
    let info = pkcs12_info(&d.join("p.pfx"), &format!("pass:{PASSWORD}"), false);
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(
        info.contains(
            "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256"
        ),
        "{info}"
    );
    assert!(
        info.contains(
            "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256"
        ),
        "{info}"
    );
    assert_pkcs12_pairs(d, "p", &format!("pass:{PASSWORD}"), false);
    assert!(
        !openssl_ok(&[
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            p(&d.join("p.pfx")),
            "-passin",
            "pass:wrong"
        ]),
        "the password protects it"
    );
}

#[test]
fn legacy_pfx_is_3des_with_a_sha1_mac() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = certgen()
        .args(["new", "--cn", "old", "--legacy-pfx", "--out"])
        .arg(d)
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("PKCS#12 with key and certificate, legacy 3DES/SHA-1 (0600)"),
        "{text}"
    );
    let info = pkcs12_info(&d.join("old.pfx"), &format!("pass:{PASSWORD}"), true);
    assert!(info.contains("MAC: sha1"), "{info}");
    assert!(
        info.contains("PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC"),
        "{info}"
    );
    assert!(
        info.contains("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"),
        "{info}"
    );
    assert_pkcs12_pairs(d, "old", &format!("pass:{PASSWORD}"), true);
}

#[test]
fn pfx_without_a_password_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = stdout(&new_in(d, &["--cn", "open", "--pfx", "--no-password"]));
    assert!(
        text.contains("AES-256/SHA-256, NO password (0600)"),
        "{text}"
    );
    assert_pkcs12_pairs(d, "open", "pass:", false);
}

#[test]
fn csr_verifies_and_holds_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = stdout(&new_in(
        d,
        &["--subject", "CN=req,O=Contoso,C=US", "--csr", "--json"],
    ));
    let doc: Value = serde_json::from_str(&out).unwrap();
    let csr = d.join("req.csr");
    assert_eq!(doc["files"]["csr"], csr.display().to_string());
    let verify = openssl_output(&["req", "-verify", "-noout", "-in", p(&csr)]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stderr).contains("verify OK"));
    let subject = openssl(&["req", "-in", p(&csr), "-noout", "-subject"]);
    assert_eq!(subject.trim(), "subject=CN = req, O = Contoso, C = US");
    let pubkey = |kind: &str, f: &Path| openssl(&[kind, "-in", p(f), "-noout", "-pubkey"]);
    assert_eq!(pubkey("req", &csr), pubkey("x509", &d.join("req.crt")));
}

#[test]
fn encrypted_key_opens_with_the_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = write_password(d);
    let text = stdout(&new_in(
        d,
        &[
            "--cn",
            "enc",
            "--encrypt-key",
            "--password-file",
            pw.to_str().unwrap(),
        ],
    ));
    assert!(
        text.contains("private key, PKCS#8, encrypted (0600)"),
        "{text}"
    );
    let key = d.join("enc.key");
    assert_eq!(mode(&key), 0o600);
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    let parsed = openssl(&["asn1parse", "-in", p(&key)]);
    for alg in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"] {
        assert!(parsed.contains(alg), "{alg} in {parsed}");
    }
    let passin = format!("file:{}", pw.display());
    let pkey = |pass: &str| openssl_ok(&["pkey", "-in", p(&key), "-passin", pass, "-noout"]);
    assert!(pkey(&passin));
    assert!(!pkey("pass:wrong"));
    assert_eq!(
        modulus("rsa", &key, &["-passin", &passin]),
        modulus("x509", &d.join("enc.crt"), &[])
    );
}

const NEW_PROMPT: &str = "Password for the new key/PFX: ";
const REPEAT_PROMPT: &str = "Repeat it: ";

#[test]
fn pfx_password_typed_twice_at_a_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((code, screen)) = certgen_on_terminal(
        d,
        &["new", "--cn", "tty", "--pfx"],
        &[(NEW_PROMPT, PASSWORD), (REPEAT_PROMPT, PASSWORD)],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Password for the new key/PFX: "),
        "{screen}"
    );
    assert!(screen.contains("Repeat it: "), "{screen}");
    assert!(!screen.contains(PASSWORD), "not echoed: {screen}");
    assert_pkcs12_pairs(d, "tty", &format!("pass:{PASSWORD}"), false);
}

#[test]
fn pfx_passwords_that_differ_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((code, screen)) = certgen_on_terminal(
        d,
        &["new", "--cn", "tty", "--pfx"],
        &[(NEW_PROMPT, PASSWORD), (REPEAT_PROMPT, "typo")],
    ) else {
        return;
    };
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("error: the two passwords differ"),
        "{screen}"
    );
    assert!(listing(d).is_empty(), "{:?}", listing(d));
}

#[test]
fn default_name_and_folder_print_as_typed() {
    let dir = tempfile::tempdir().unwrap();
    let out = certgen()
        .args(["new", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["subject"], "CN=certgen");
    assert_eq!(doc["files"]["cert"], "certgen.crt");
    assert_eq!(
        listing(dir.path()),
        ["certgen.cer", "certgen.crt", "certgen.key"]
    );

    let out = certgen()
        .args([
            "new",
            "--subject",
            "/C=US/O=Contoso/CN=my daemon",
            "--name",
            "svc",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(stdout(&out).contains("next: upload svc.cer in App registrations"));
    let subject = openssl(&[
        "x509",
        "-in",
        p(&dir.path().join("svc.crt")),
        "-noout",
        "-subject",
    ]);
    assert_eq!(
        subject.trim(),
        "subject=C = US, O = Contoso, CN = my daemon"
    );
}

// ---- refusals: the exit code, one error line, nothing on stdout, nothing written ----

fn refused(dir: &Path, args: &[&str], code: i32) -> String {
    let before = listing(dir);
    let e = assert_clean_failure(&new_in(dir, args), code);
    assert_eq!(listing(dir), before, "nothing written, no temp file left");
    e
}

#[test]
fn existing_files_are_kept_without_force_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&new_in(d, &["--cn", "keep"]));
    let names = ["keep.crt", "keep.cer", "keep.key"];
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(d.join(n)).unwrap())
        .collect();

    let e = refused(d, &["--cn", "keep"], 1);
    assert!(e.contains("refusing to overwrite existing files"), "{e}");
    for n in names {
        assert!(e.contains(n), "{n} named in {e}");
    }
    let after: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(d.join(n)).unwrap())
        .collect();
    assert_eq!(before, after, "byte for byte unchanged");

    // One clashing file is enough to write none of the others.
    std::fs::write(d.join("other.csr"), "mine").unwrap();
    let e = refused(d, &["--cn", "other", "--csr"], 1);
    assert_eq!(
        e,
        format!(
            "error: refusing to overwrite existing file {}",
            d.join("other.csr").display()
        )
    );
    assert_eq!(std::fs::read(d.join("other.csr")).unwrap(), b"mine");

    stdout(&new_in(d, &["--cn", "keep", "--force"]));
    for (n, old) in names.iter().zip(&before) {
        assert_ne!(&std::fs::read(d.join(n)).unwrap(), old, "{n} replaced");
    }
    assert_eq!(mode(&d.join("keep.key")), 0o600);
    assert_eq!(
        modulus("rsa", &d.join("keep.key"), &[]),
        modulus("x509", &d.join("keep.crt"), &[])
    );
}

#[test]
fn force_never_loses_the_old_files_when_it_cannot_finish() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.crt"), "old crt").unwrap();
    std::fs::write(d.join("x.cer"), "old cer").unwrap();
    std::fs::create_dir(d.join("x.key")).unwrap();
    let e = refused(d, &["--cn", "x", "--force"], 1);
    assert!(
        e.contains("x.key: a folder of that name is in the way"),
        "{e}"
    );
    assert_eq!(std::fs::read(d.join("x.crt")).unwrap(), b"old crt");
    assert_eq!(std::fs::read(d.join("x.cer")).unwrap(), b"old cer");
}

#[test]
fn out_is_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let out = certgen()
        .args(["new", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    let e = assert_clean_failure(&out, 1);
    assert!(e.ends_with("is not a folder"), "{e}");
    assert_eq!(listing(dir.path()), ["plain"]);
}

#[test]
fn out_under_proc_cannot_be_written() {
    // Root ignores permission bits, but not /proc.
    let out = certgen()
        .args(["new", "--out", "/proc/self"])
        .output()
        .unwrap();
    let e = assert_clean_failure(&out, 1);
    assert!(e.starts_with("error: cannot write in /proc/self"), "{e}");
    assert!(!Path::new("/proc/self/certgen.crt").exists());
}

#[test]
fn missing_out_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-there");
    let out = certgen()
        .args(["new", "--out"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let e = assert_clean_failure(&out, 1);
    assert!(e.ends_with("does not exist"), "{e}");
    assert!(
        stderr.contains("hint: create it first: mkdir -p"),
        "{stderr}"
    );
    assert!(!missing.exists(), "not created behind the user's back");
}

#[test]
fn days_zero() {
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), &["--days", "0"], 2);
}

#[test]
fn days_over_ten_years() {
    let dir = tempfile::tempdir().unwrap();
    let e = refused(dir.path(), &["--days", "3651"], 2);
    assert!(e.contains("3651"), "{e}");
}

#[test]
fn key_size_1024() {
    let dir = tempfile::tempdir().unwrap();
    let out = new_in(dir.path(), &["--key-size", "1024"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    refused(dir.path(), &["--key-size", "1024"], 2);
    assert!(
        stderr.contains("hint: possible values: 2048, 3072, 4096"),
        "{stderr}"
    );
}

#[test]
fn pfx_with_no_password_source() {
    let dir = tempfile::tempdir().unwrap();
    let e = refused(dir.path(), &["--pfx"], 1);
    assert_eq!(e, "error: a password is needed and none was given");
}

#[test]
fn encrypt_key_with_no_password_source() {
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), &["--encrypt-key"], 1);
}

#[test]
fn empty_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = tempfile::NamedTempFile::new().unwrap();
    let e = refused(
        dir.path(),
        &["--pfx", "--password-file", pw.path().to_str().unwrap()],
        1,
    );
    assert_eq!(e, "error: the password is empty");
}

#[test]
fn missing_password_file() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        dir.path(),
        &["--pfx", "--password-file", "/nonexistent/pw"],
        1,
    );
}

#[test]
fn no_password_without_pfx() {
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), &["--no-password"], 2);
}

#[test]
fn cn_and_subject_together() {
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), &["--cn", "a", "--subject", "CN=b"], 2);
}

#[test]
fn bad_subject_and_san() {
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), &["--subject", "nonsense"], 2);
    refused(dir.path(), &["--san", "not a name"], 2);
    refused(dir.path(), &["--name", "../escape"], 2);
    refused(dir.path(), &["--subject", "CN=x,C=USA"], 2);
    refused(dir.path(), &["--cn", &"x".repeat(65)], 2);
}

// ---- the global command-line surface ----

#[test]
fn version() {
    let out = stdout(&certgen().arg("--version").output().unwrap());
    assert_eq!(out, format!("certgen {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_new_and_new_help_say_rsa_only() {
    for args in [&["help", "new"][..], &["new", "--help"][..]] {
        let out = stdout(&certgen().args(args).output().unwrap());
        // Help is wrapped to the terminal width; compare words, not line breaks.
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(out.contains("Keys are RSA only"), "{out}");
        assert!(out.contains("Microsoft Entra ID accepts only RSA credentials"));
        assert!(out.contains("--key-size <BITS>"), "{out}");
        assert!(!out.to_lowercase().contains("--curve") && !out.contains("P-256"));
    }
}

#[test]
fn thumbprint_help() {
    let out = stdout(&certgen().args(["thumbprint", "--help"]).output().unwrap());
    assert!(out.contains("x5t#S256"), "{out}");
}

#[test]
fn completions_bash() {
    let out = stdout(&certgen().args(["completions", "bash"]).output().unwrap());
    assert!(out.contains("_certgen()"), "{out}");
    assert!(out.contains("thumbprint") && out.contains("--key-size"));
}
