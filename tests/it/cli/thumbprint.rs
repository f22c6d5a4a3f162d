//! `certgen thumbprint` on every kind of input in fixtures/ (all made by openssl), each value
//! compared with `openssl x509 -fingerprint` and base64url computed here from openssl's bytes.

use std::path::Path;

use crate::support::*;
use serde_json::Value;

const FORMS: [&str; 4] = ["sha1", "sha256", "x5t", "x5t-s256"];

/// `certgen thumbprint ARGS --format F` for every form: one line per certificate, in order.
fn forms_of(args: &[&str], password_env: bool) -> Vec<Expected> {
    let mut per_form = Vec::new();
    for form in FORMS {
        let mut cmd = certgen();
        cmd.arg("thumbprint").args(args).args(["--format", form]);
        if password_env {
            cmd.env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD);
        }
        let text = stdout(&cmd.output().unwrap());
        per_form.push(text.lines().map(str::to_string).collect::<Vec<_>>());
    }
    let n = per_form[0].len();
    assert!(per_form.iter().all(|lines| lines.len() == n));
    (0..n)
        .map(|i| Expected {
            sha1: per_form[0][i].clone(),
            sha256: per_form[1][i].clone(),
            x5t: per_form[2][i].clone(),
            x5t_s256: per_form[3][i].clone(),
        })
        .collect()
}

fn fx(name: &str) -> String {
    fixture(name).display().to_string()
}

fn password_file(dir: &Path) -> String {
    write_password(dir).display().to_string()
}

#[test]
fn pem_certificate_default_block_shows_everything_labelled() {
    let expected = openssl_thumbprints(&fixture("rsa.crt"));
    let out = stdout(
        &certgen()
            .args(["thumbprint", &fx("rsa.crt")])
            .output()
            .unwrap(),
    );
    assert!(out.starts_with(&format!("{}\n", fx("rsa.crt"))), "{out}");
    assert!(out.contains("subject    CN=certgen fixture rsa"), "{out}");
    assert!(out.contains("issuer     CN=certgen fixture rsa"), "{out}");
    assert!(out.contains(&format!(
        "serial     {}",
        openssl_serial(&fixture("rsa.crt"))
    )));
    assert!(out.contains("key        RSA 2048"), "{out}");
    let (nb, na) = openssl_dates(&fixture("rsa.crt"));
    assert!(
        out.contains(&format!("valid      {nb} to {na} (valid, expires in ")),
        "{out}"
    );
    for (label, value) in [
        ("thumbprint    (portal, MSAL)", &expected.sha1),
        ("thumbprint_sha256", &expected.sha256),
        ("x5t           (JWT header, RS256)", &expected.x5t),
        ("x5t#S256      (JWT header, PS256)", &expected.x5t_s256),
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {out}"));
        assert_eq!(
            line.split_whitespace().last(),
            Some(value.as_str()),
            "{line}"
        );
    }
    assert!(!out.contains("EXPIRED"));
}

#[test]
fn every_format_of_a_pem_certificate() {
    assert_eq!(
        forms_of(&[&fx("rsa.crt")], false),
        vec![openssl_thumbprints(&fixture("rsa.crt"))]
    );
}

#[test]
fn der_certificate() {
    // openssl reads the DER file itself, not the PEM twin.
    let expected = openssl_thumbprints(&fixture("rsa.cer"));
    assert_eq!(expected, openssl_thumbprints(&fixture("rsa.crt")));
    assert_eq!(forms_of(&[&fx("rsa.cer")], false), vec![expected]);
}

#[test]
fn bundle_gives_three_blocks_in_file_order() {
    let pem = std::fs::read_to_string(fixture("bundle.pem")).unwrap();
    let expected = openssl_thumbprints_of_pem_text(&pem);
    assert_eq!(expected.len(), 3);
    assert_eq!(forms_of(&[&fx("bundle.pem")], false), expected);

    let out = stdout(
        &certgen()
            .args(["thumbprint", &fx("bundle.pem")])
            .output()
            .unwrap(),
    );
    for (i, subject) in [
        "CN=certgen fixture leaf",
        "CN=certgen fixture intermediate CA",
        "CN=certgen fixture root CA",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            out.contains(&format!("{} [{}]\n", fx("bundle.pem"), i + 1)),
            "{out}"
        );
        assert!(out.contains(&format!("subject    {subject}\n")), "{out}");
    }
    assert_eq!(out.matches("thumbprint    (portal, MSAL)").count(), 3);
}

#[test]
fn combined_key_and_certificate_pem() {
    assert_eq!(
        forms_of(&[&fx("combined.pem")], false),
        vec![openssl_thumbprints(&fixture("rsa.crt"))]
    );
}

#[test]
fn an_encrypted_key_beside_the_certificate_needs_no_password() {
    // Only the certificate matters for thumbprints: the key is not decrypted.
    assert_eq!(
        forms_of(&[&fx("combined-encrypted.pem")], false),
        vec![openssl_thumbprints(&fixture("rsa.crt"))]
    );
}

#[test]
fn an_ec_key_beside_the_certificate_is_no_obstacle() {
    let dir = tempfile::tempdir().unwrap();
    let both = dir.path().join("ec-both.pem");
    let mut bytes = std::fs::read(fixture("ec-sec1.key")).unwrap();
    bytes.extend(std::fs::read(fixture("ec.crt")).unwrap());
    std::fs::write(&both, bytes).unwrap();
    assert_eq!(
        forms_of(&[both.to_str().unwrap()], false),
        vec![openssl_thumbprints(&fixture("ec.crt"))]
    );
}

#[test]
fn openssl_trusted_certificate_form() {
    // openssl computes the fingerprint of the certificate without its trust settings.
    let expected = openssl_thumbprints(&fixture("trusted.pem"));
    assert_eq!(expected, openssl_thumbprints(&fixture("rsa.crt")));
    assert_eq!(forms_of(&[&fx("trusted.pem")], false), vec![expected]);
}

#[test]
fn windows_line_endings_and_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let pem = std::fs::read_to_string(fixture("bundle.pem")).unwrap();
    let p = dir.path().join("windows.pem");
    std::fs::write(&p, format!("\u{feff}{}", pem.replace('\n', "\r\n"))).unwrap();
    assert_eq!(
        forms_of(&[p.to_str().unwrap()], false),
        openssl_thumbprints_of_pem_text(&pem)
    );
}

#[test]
fn stdin_pem_and_der() {
    let expected = openssl_thumbprints(&fixture("rsa.crt"));
    for file in ["rsa.crt", "rsa.cer"] {
        let out = stdout(
            &certgen()
                .args(["thumbprint", "-", "--format", "sha1"])
                .pipe_stdin(fixture(file))
                .unwrap()
                .output()
                .unwrap(),
        );
        assert_eq!(out, format!("{}\n", expected.sha1));
    }
    let out = stdout(
        &certgen()
            .args(["thumbprint", "-"])
            .pipe_stdin(fixture("rsa.crt"))
            .unwrap()
            .output()
            .unwrap(),
    );
    assert!(out.starts_with("-\n"), "stdin is named '-': {out}");
}

/// Each PKCS#12 flavour, with the password from a file, from stdin and from the environment;
/// compared with the certificate openssl itself extracts from the same file.
fn check_pkcs12(name: &str, legacy: bool) {
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    let extracted = openssl_pkcs12_certs(&fixture(name), PASSWORD, legacy);
    let expected = openssl_thumbprints_of_pem_text(&extracted);
    assert_eq!(expected, vec![openssl_thumbprints(&fixture("rsa.crt"))]);

    assert_eq!(
        forms_of(&[&fx(name), "--password-file", &pw], false),
        expected
    );
    assert_eq!(forms_of(&[&fx(name)], true), expected);
    let out = stdout(
        &certgen()
            .args([
                "thumbprint",
                &fx(name),
                "--password-file",
                "-",
                "--format",
                "sha1",
            ])
            .write_stdin(format!("{PASSWORD}\n"))
            .output()
            .unwrap(),
    );
    assert_eq!(out, format!("{}\n", expected[0].sha1));
}

#[test]
fn pkcs12_modern_aes() {
    check_pkcs12("modern.pfx", false);
}

#[test]
fn pkcs12_legacy_3des() {
    check_pkcs12("legacy-3des.pfx", true);
}

#[test]
fn pkcs12_legacy_rc2_40() {
    check_pkcs12("legacy-rc2.pfx", true);
}

#[test]
fn one_password_from_stdin_serves_several_pkcs12_files() {
    let expected = openssl_thumbprints(&fixture("rsa.crt")).sha1;
    let out = stdout(
        &certgen()
            .args(["thumbprint", "--format", "sha1", "--password-file", "-"])
            .args([
                fx("modern.pfx"),
                fx("legacy-3des.pfx"),
                fx("legacy-rc2.pfx"),
            ])
            .write_stdin(format!("{PASSWORD}\n"))
            .output()
            .unwrap(),
    );
    assert_eq!(out, format!("{expected}\n{expected}\n{expected}\n"));
}

#[test]
fn pkcs12_password_typed_at_a_prompt_is_not_echoed() {
    let expected = openssl_thumbprints(&fixture("rsa.crt"));
    let Some((code, screen)) = certgen_on_terminal(
        &fixture(""),
        &["thumbprint", "legacy-rc2.pfx", "--format", "x5t"],
        &[("PKCS#12 password: ", PASSWORD)],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("PKCS#12 password: "), "{screen}");
    assert!(screen.ends_with(&format!("{}\n", expected.x5t)), "{screen}");
    assert!(
        !screen.contains(PASSWORD),
        "the password is not echoed: {screen}"
    );
}

#[test]
fn pkcs12_without_password_needs_no_source() {
    let expected =
        openssl_thumbprints_of_pem_text(&openssl_pkcs12_certs(&fixture("nopass.pfx"), "", false));
    assert_eq!(forms_of(&[&fx("nopass.pfx")], false), expected);
    // A password meant for other files does not get in the way.
    assert_eq!(forms_of(&[&fx("nopass.pfx")], true), expected);
}

#[test]
fn pkcs12_gives_leaf_then_chain() {
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    let expected: Vec<Expected> = ["leaf.crt", "inter.crt", "root.crt"]
        .iter()
        .map(|f| openssl_thumbprints(&fixture(f)))
        .collect();
    let got = forms_of(&[&fx("chain.pfx"), "--password-file", &pw], false);
    assert_eq!(got, expected);
    // …and they are exactly the certificates openssl finds in the file.
    let mut from_openssl = openssl_thumbprints_of_pem_text(&openssl_pkcs12_certs(
        &fixture("chain.pfx"),
        PASSWORD,
        false,
    ));
    let mut sorted = got.clone();
    from_openssl.sort_by(|a, b| a.sha1.cmp(&b.sha1));
    sorted.sort_by(|a, b| a.sha1.cmp(&b.sha1));
    assert_eq!(sorted, from_openssl);
}

#[test]
fn several_files_in_one_call_keep_their_order() {
    let expected: Vec<Expected> = ["rsa.cer", "ec.crt", "rsa1024.crt"]
        .iter()
        .map(|f| openssl_thumbprints(&fixture(f)))
        .collect();
    assert_eq!(
        forms_of(&[&fx("rsa.cer"), &fx("ec.crt"), &fx("rsa1024.crt")], false),
        expected
    );
}

#[test]
fn json_has_the_spec_fields_and_openssl_values() {
    let out = stdout(
        &certgen()
            .args(["thumbprint", "--json", &fx("bundle.pem"), &fx("ec.crt")])
            .output()
            .unwrap(),
    );
    let doc: Value = serde_json::from_str(&out).expect("exactly one JSON document");
    let items = doc.as_array().expect("an array");
    assert_eq!(items.len(), 4);

    let pem = std::fs::read_to_string(fixture("bundle.pem")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, block) in pem_certificates(&pem).iter().enumerate() {
        let p = dir.path().join(format!("{i}.pem"));
        std::fs::write(&p, block).unwrap();
        files.push((fx("bundle.pem"), i, p));
    }
    files.push((fx("ec.crt"), 0, fixture("ec.crt")));

    for (item, (file, index, cert)) in items.iter().zip(&files) {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "file",
                "index",
                "subject",
                "issuer",
                "serial",
                "not_before",
                "not_after",
                "key",
                "thumbprint",
                "thumbprint_sha256",
                "x5t",
                "x5t_s256"
            ]
        );
        let expected = openssl_thumbprints(cert);
        let (nb, na) = openssl_dates(cert);
        assert_eq!(item["file"], file.as_str());
        assert_eq!(item["index"], *index);
        assert_eq!(item["serial"], openssl_serial(cert));
        assert_eq!(item["not_before"], nb);
        assert_eq!(item["not_after"], na);
        assert_eq!(item["thumbprint"], expected.sha1);
        assert_eq!(item["thumbprint_sha256"], expected.sha256);
        assert_eq!(item["x5t"], expected.x5t);
        assert_eq!(item["x5t_s256"], expected.x5t_s256);
    }
    assert_eq!(items[0]["subject"], "CN=certgen fixture leaf");
    assert_eq!(items[0]["issuer"], "CN=certgen fixture intermediate CA");
    assert_eq!(items[0]["key"], "RSA 2048");
    assert_eq!(items[3]["key"], "EC P-256");
}

#[test]
fn expired_and_not_yet_valid_are_marked() {
    let out = stdout(
        &certgen()
            .args(["thumbprint", &fx("expired.crt"), &fx("notyet.crt")])
            .output()
            .unwrap(),
    );
    assert!(
        out.contains("valid      2020-01-01T00:00:00Z to 2021-01-01T00:00:00Z (EXPIRED "),
        "{out}"
    );
    assert!(
        out.contains(
            "valid      2090-01-01T00:00:00Z to 2091-01-01T00:00:00Z (NOT YET VALID, starts in "
        ),
        "{out}"
    );
    // Still reported: the thumbprint of an expired certificate is what a user looks for.
    assert!(out.contains(&openssl_thumbprints(&fixture("expired.crt")).sha1));
}

#[test]
fn key_sizes_and_types_are_named() {
    let out = stdout(
        &certgen()
            .args(["thumbprint", "--json", &fx("rsa1024.crt"), &fx("ec.crt")])
            .output()
            .unwrap(),
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc[0]["key"], "RSA 1024");
    assert_eq!(doc[1]["key"], "EC P-256");
}

// ---- bad input: exit code, one error line, nothing on stdout ----

fn fails(args: &[&str], code: i32) -> String {
    let out = certgen().arg("thumbprint").args(args).output().unwrap();
    assert_clean_failure(&out, code)
}

/// Deterministic pseudo-random bytes (xorshift), so a failure reproduces.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noise.bin");
    std::fs::write(&p, noise(4096, 0x5eed)).unwrap();
    let e = fails(&[p.to_str().unwrap()], 1);
    assert!(
        e.contains("is not a certificate, key or PKCS#12 file"),
        "{e}"
    );
}

#[test]
fn random_bytes_that_look_like_der() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noise.der");
    let mut bytes = vec![0x30, 0x82, 0x0f, 0xfc];
    bytes.extend(noise(4092, 42));
    std::fs::write(&p, bytes).unwrap();
    fails(&[p.to_str().unwrap()], 1);
}

#[test]
fn endless_input_is_cut_off() {
    let e = fails(&["/dev/zero"], 1);
    assert!(
        e.contains("it is a device, not a regular file holding a certificate, key or PKCS#12 file"),
        "{e}"
    );
    let e = fails(&[&fx("modern.pfx"), "--password-file", "/dev/zero"], 1);
    assert!(
        e.contains("not a regular file holding a password or secret file"),
        "{e}"
    );
}

#[test]
fn truncated_pem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("half.pem");
    let pem = std::fs::read(fixture("rsa.crt")).unwrap();
    std::fs::write(&p, &pem[..pem.len() / 2]).unwrap();
    let e = fails(&[p.to_str().unwrap()], 1);
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn truncated_der() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("half.cer");
    let der = std::fs::read(fixture("rsa.cer")).unwrap();
    std::fs::write(&p, &der[..der.len() - 10]).unwrap();
    fails(&[p.to_str().unwrap()], 1);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.pem");
    std::fs::write(&p, "").unwrap();
    let e = fails(&[p.to_str().unwrap()], 1);
    assert!(e.ends_with("is empty"), "{e}");
}

#[test]
fn empty_stdin() {
    let out = certgen()
        .args(["thumbprint", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(assert_clean_failure(&out, 1), "error: - is empty");
}

#[test]
fn missing_file() {
    let e = fails(&["/nonexistent/certgen/x.crt"], 1);
    assert_eq!(
        e,
        "error: cannot read /nonexistent/certgen/x.crt: no such file or directory"
    );
}

#[test]
fn a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = fails(&[dir.path().to_str().unwrap()], 1);
    assert!(e.contains("it is a folder, not a regular file"), "{e}");
}

#[test]
fn wrong_pkcs12_password_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pw");
    std::fs::write(&p, "not-the-password\n").unwrap();
    private(&p);
    let e = fails(
        &[&fx("modern.pfx"), "--password-file", p.to_str().unwrap()],
        1,
    );
    assert!(e.contains("wrong password"), "{e}");
}

#[test]
fn wrong_pkcs12_password_from_the_environment() {
    let out = certgen()
        .args(["thumbprint", &fx("legacy-rc2.pfx")])
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "nope")
        .output()
        .unwrap();
    let e = assert_clean_failure(&out, 1);
    assert!(e.contains("wrong password"), "{e}");
}

#[test]
fn pkcs12_with_no_password_source_and_no_terminal() {
    // stdin is not a terminal under the test harness, so no prompt can be shown.
    let e = fails(&[&fx("legacy-3des.pfx")], 1);
    assert!(e.contains("password-protected PKCS#12"), "{e}");
}

#[test]
fn a_file_holding_only_a_key() {
    let e = fails(&[&fx("rsa-pkcs1.key")], 1);
    assert_eq!(
        e,
        format!(
            "error: {} holds no certificate (only a private key)",
            fx("rsa-pkcs1.key")
        )
    );
}

#[test]
fn a_file_holding_only_an_encrypted_key_asks_for_no_password() {
    let e = fails(&[&fx("rsa-encrypted.key")], 1);
    assert_eq!(
        e,
        format!(
            "error: {} holds no certificate (only a private key)",
            fx("rsa-encrypted.key")
        )
    );
}

#[test]
fn one_bad_file_among_good_ones_prints_nothing() {
    fails(
        &[&fx("rsa.crt"), "/nonexistent/certgen/x.crt", &fx("rsa.cer")],
        1,
    );
}

#[test]
fn no_file_is_a_usage_error() {
    fails(&[], 2);
}

#[test]
fn unknown_format_is_a_usage_error() {
    let out = certgen()
        .args(["thumbprint", &fx("rsa.crt"), "--format", "md5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_clean_failure(&out, 2);
    assert!(
        stderr.contains("hint: possible values: sha1, sha256, x5t, x5t-s256"),
        "{stderr}"
    );
}

#[test]
fn json_and_format_together_is_a_usage_error() {
    fails(&[&fx("rsa.crt"), "--json", "--format", "sha1"], 2);
}

#[test]
fn stdin_twice_is_a_usage_error() {
    fails(&["-", "-"], 2);
    fails(&["-", "--password-file", "-"], 2);
}

// ---- PKCS#12 files that demand too much key derivation ----
//
// `openssl pkcs12 -export -iter 2147483647` itself spins for hours, so these files are made by
// patching an OpenSSL-made fixture: the DER INTEGER holding one of its iteration counts (all
// 2048) is replaced and every enclosing length re-encoded. The MAC then no longer verifies,
// which is the point: certgen must refuse the count from the structure, before deriving the
// MAC key or any other. The test binary's timeout is the only guard against a spin.

/// Short-form or long-form DER length.
fn der_length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// One element at the start of `der`: (tag, content, whole element).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let mut len = 0usize;
        for i in 0..n {
            len = len << 8 | *der.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    Some((
        tag,
        der.get(header..header + len)?,
        der.get(..header + len)?,
    ))
}

/// `der` (a run of elements) with the `nth` INTEGER whose content is `from` replaced by `to`,
/// looking inside constructed elements and inside OCTET STRINGs that hold DER (PKCS#12 nests
/// its safes so). `None` when nothing inside changed or `der` is not DER; untouched elements
/// keep their bytes.
fn patch_elements(
    der: &[u8],
    from: &[u8],
    to: &[u8],
    nth: usize,
    seen: &mut usize,
) -> Option<Vec<u8>> {
    let mut elements = Vec::new();
    let mut rest = der;
    while !rest.is_empty() {
        let element = der_element(rest)?;
        rest = &rest[element.2.len()..];
        elements.push(element);
    }
    let mut changed = false;
    let mut out = Vec::new();
    for (tag, content, whole) in elements {
        let patched = if tag == 0x02 && content == from {
            *seen += 1;
            (*seen - 1 == nth).then(|| to.to_vec())
        } else if tag & 0x20 != 0 || (tag == 0x04 && content.first() == Some(&0x30)) {
            patch_elements(content, from, to, nth, seen)
        } else {
            None
        };
        match patched {
            Some(content) => {
                changed = true;
                out.push(tag);
                out.extend(der_length(content.len()));
                out.extend(content);
            }
            None => out.extend_from_slice(whole),
        }
    }
    changed.then_some(out)
}

/// A fixture with its `nth` iteration count of 2048 (in file order: the encrypted certificate
/// safe, the shrouded key bag, the MAC) set to `to`.
fn with_iterations(name: &str, nth: usize, to: u32) -> Vec<u8> {
    let der = std::fs::read(fixture(name)).unwrap();
    let to: Vec<u8> = to
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut seen = 0;
    patch_elements(&der, &[0x08, 0x00], &to, nth, &mut seen).expect("the count is in the file")
}

#[test]
fn the_patched_files_carry_the_count_where_openssl_reads_it() {
    // Cross-check of the patching with a cheap count: `openssl pkcs12 -info` shows 4096 exactly
    // where this test says it put it (the MAC does not verify any more, hence -nomacver).
    let dir = tempfile::tempdir().unwrap();
    for (nth, label) in [
        (0, "PKCS7 Encrypted data"),
        (1, "Shrouded Keybag"),
        (2, "MAC"),
    ] {
        let file = dir.path().join(format!("patched-{nth}.pfx"));
        std::fs::write(&file, with_iterations("modern.pfx", nth, 4096)).unwrap();
        let info = openssl_output(&[
            "pkcs12",
            "-info",
            "-noout",
            "-nomacver",
            "-in",
            p(&file),
            "-passin",
            &format!("pass:{PASSWORD}"),
        ]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&info.stdout),
            String::from_utf8_lossy(&info.stderr)
        );
        let patched: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Iteration 4096"))
            .collect();
        assert_eq!(patched.len(), 1, "{text}");
        assert!(patched[0].starts_with(label), "{nth}: {text}");
    }
}

#[test]
fn pkcs12_with_huge_iteration_counts_is_refused_before_deriving() {
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    for name in ["modern.pfx", "legacy-3des.pfx"] {
        // The encrypted certificate safe, the shrouded key bag, the MAC.
        for nth in 0..3 {
            let file = dir.path().join(format!("huge-{nth}-{name}"));
            std::fs::write(&file, with_iterations(name, nth, i32::MAX as u32)).unwrap();
            let out = certgen()
                .args(["thumbprint", p(&file), "--password-file", &pw])
                .output()
                .unwrap();
            let line = assert_clean_failure(&out, 1);
            assert_eq!(
                line,
                format!(
                    "error: {} uses 2147483647 key-derivation iterations, more than certgen accepts \
                     (1000000); re-export it: openssl pkcs12 -in {} -nodes | openssl pkcs12 -export -out new.pfx",
                    p(&file),
                    p(&file)
                ),
                "{name} #{nth}"
            );
        }
    }
}

#[test]
fn pkcs12_at_the_largest_count_real_tools_write_still_opens() {
    // 600,000 PBKDF2 iterations (the most cautious tools' choice) in an OpenSSL-made file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.pfx");
    assert!(openssl_ok(&[
        "pkcs12",
        "-export",
        "-inkey",
        p(&fixture("rsa.key")),
        "-in",
        p(&fixture("rsa.crt")),
        "-iter",
        "600000",
        "-passout",
        &format!("pass:{PASSWORD}"),
        "-out",
        p(&file),
    ]));
    let expected = openssl_thumbprints(&fixture("rsa.crt"));
    let got = forms_of(
        &[p(&file), "--password-file", &password_file(dir.path())],
        false,
    );
    assert_eq!(got, vec![expected]);
}
