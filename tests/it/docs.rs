//! The README's walkthroughs, run by bash exactly as written: every fenced block after a
//! `<!-- readme-test: MARK -->` line (the offline loop, the sign-in walkthrough, the rotation
//! rehearsal), so the documentation cannot drift from the binary.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::token_stub::CLEAN_ENV;
use serde_json::Value;

/// The fenced block that follows each `<!-- readme-test: MARK -->` line of the documentation, in
/// order: README.md first, then every `docs/*.md` page by file name.
fn readme_blocks(mark: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    let marker = format!("<!-- readme-test: {mark} -->");
    let mut blocks = Vec::new();
    for page in std::iter::once(root.join("README.md")).chain(docs) {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() != marker {
                continue;
            }
            let fence = lines.next().expect("a block after the marker");
            assert!(
                fence.starts_with("```"),
                "{mark} in {}: not a fenced block: {fence}",
                page.display()
            );
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push(body.join("\n") + "\n");
        }
    }
    blocks
}

/// Runs `script` with `bash -euo pipefail` in `dir`, as a reader would paste it: the certgen
/// under test first on PATH, HOME in `dir`, no cache or Azure variables of whoever runs the
/// tests. Whatever the script started is stopped when it ends (or after 240 s).
///
/// A test builds nothing: the README's `cargo run -q --example protected_api -- ARGS` reaches a
/// `cargo` on PATH that runs the example binary `cargo test` (or .ci/run) built, with ARGS, and
/// refuses any other cargo command.
fn run_readme_script(dir: &Path, script: &str) -> (std::process::Output, String, String) {
    std::fs::write(dir.join("readme.sh"), script).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_certgen")).parent().unwrap();
    let shim_dir = dir.join(".readme-bin");
    std::fs::create_dir_all(&shim_dir).unwrap();
    let examples = bin_dir.join("examples");
    let cargo = shim_dir.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\n\
             case \"$*\" in\n\
             'run -q --example protected_api --'*) shift 5; exec '{0}/protected_api' \"$@\" ;;\n\
             'run -q --example azure_identity_managed --'*) shift 5; exec '{0}/azure_identity_managed' \"$@\" ;;\n\
             esac\n\
             echo \"cargo (test shim): only 'run -q --example protected_api|azure_identity_managed --' here\" >&2\n\
             exit 101\n",
            examples.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:{}",
        shim_dir.display(),
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    for var in CLEAN_ENV {
        cmd.env_remove(var);
    }
    use std::os::unix::process::CommandExt;
    let child = cmd
        .args(["-euo", "pipefail", "readme.sh"])
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .env_remove("CERTGEN_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while !waiter.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Whatever happened, nothing the script started outlives the test. The group is signalled
    // with kill(2) itself: procps' `kill -TERM -PGID` (4.0.2 here) sends kill(-1, SIGTERM),
    // every process the user may signal, the whole machine's when the tests run as root.
    let group = libc::pid_t::try_from(group).expect("a pid");
    // SAFETY: kill(2) on a process group this test created (process_group(0) above).
    unsafe { libc::kill(-group, libc::SIGTERM) };
    let out = waiter.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the README script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (out, stdout, stderr)
}

// Item 9: the README's offline loop, run by bash exactly as the README shows it.
#[test]
fn readme_offline_loop() {
    let config = readme_blocks("file serve.toml");
    assert_eq!(config.len(), 1, "the README marks one serve.toml");
    let script = readme_blocks("offline-loop");
    assert_eq!(script.len(), 2, "the README marks the loop's two blocks");
    // The README's `cargo run --example protected_api`, already built (see run_readme_script).
    let Some(_) = crate::support::require::example("protected_api") else {
        return;
    };

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(dir.path().join("serve.toml"), &config[0]).unwrap();
    let (_, stdout, _) = run_readme_script(dir.path(), &script.concat());
    // verify prints the claims first; then the API's answer, then the status of the 401.
    let answer = stdout
        .lines()
        .find(|l| l.starts_with('{') && l.contains("\"message\""))
        .unwrap_or_else(|| panic!("no answer from the API: {stdout}"));
    let api: Value = serde_json::from_str(answer).unwrap();
    assert_eq!(
        api["message"], "Hello, 6f1c5e8a-1111-4222-8333-944455556666!",
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("401"), "{stdout}");
}

// Issue 14: the README's sign-in walkthrough (curl as the browser and the web app), as written.
#[test]
fn readme_signin_walkthrough() {
    let config = readme_blocks("file signin.toml");
    assert_eq!(config.len(), 1, "the README marks one signin.toml");
    let script = readme_blocks("signin");
    assert_eq!(script.len(), 1, "the README marks the sign-in walkthrough");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(dir.path().join("signin.toml"), &config[0]).unwrap();
    let (_, stdout, stderr) = run_readme_script(dir.path(), &script[0]);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"{"name":"Adele Vance","preferred_username":"adele@contoso.example","nonce":"n1"}"#,
            "Adele Vance"
        ],
        "{stderr}"
    );
}

// docs/serve.md's provisioning through Graph, run as written: the new app's token carries the
// role the admin app assigned it.
#[test]
fn readme_graph_provisioning() {
    let config = readme_blocks("file provision.toml");
    assert_eq!(config.len(), 1, "the docs mark one provision.toml");
    let script = readme_blocks("graph-provision");
    assert_eq!(script.len(), 1, "the docs mark the provisioning block");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(dir.path().join("provision.toml"), &config[0]).unwrap();
    let (_, stdout, stderr) = run_readme_script(dir.path(), &script[0]);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [r#"["User.Read.All"]"#],
        "{stderr}"
    );
}

// The README's rotation rehearsal, run as written: a due certificate renewed against serve with
// a replication delay, the files swapped (the .cer with them).
#[test]
fn readme_rotate_rehearsal() {
    let script = readme_blocks("rotate-rehearsal");
    assert_eq!(script.len(), 1, "the README marks the rehearsal's block");
    let dir = tempfile::tempdir().unwrap();
    let (_, stdout, stderr) = run_readme_script(dir.path(), &script[0]);
    assert!(
        stderr.contains("rotate 3/5: waiting for the new certificate to get a token"),
        "{stderr}"
    );
    let rotated = stdout
        .lines()
        .find(|l| l.starts_with("rotated: "))
        .unwrap_or_else(|| panic!("no result line: {stdout}"));
    assert!(rotated.contains("old certificate removed"), "{rotated}");
    for kept in [
        "my-daemon.crt.previous",
        "my-daemon.key.previous",
        "my-daemon.cer.previous",
    ] {
        assert!(dir.path().join(kept).is_file(), "{kept}");
    }
}

// docs/federation.md's two walkthroughs, run as written: a GitHub Actions job and a Kubernetes
// pod sign in through the app's federated credentials (the app has no secret or certificate).
#[test]
fn federation_walkthroughs() {
    let config = readme_blocks("file federation.toml");
    assert_eq!(config.len(), 1, "the docs mark one federation.toml");
    let claims = r#"{"appid":"6f1c5e8a-1111-4222-8333-944455556666","appidacr":"2","roles":["User.Read.All"]}"#;
    for (mark, expected) in [
        ("federation-github", vec![claims, "Adele Vance"]),
        (
            "federation-kubernetes",
            vec![
                r#"["AZURE_AUTHORITY_HOST","AZURE_CLIENT_ID","AZURE_FEDERATED_TOKEN_FILE","AZURE_TENANT_ID"]"#,
                claims,
                "system:serviceaccount:shop:orders",
            ],
        ),
    ] {
        let script = readme_blocks(mark);
        assert_eq!(script.len(), 1, "the docs mark one {mark} block");
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        std::fs::write(dir.path().join("federation.toml"), &config[0]).unwrap();
        let (_, stdout, stderr) = run_readme_script(dir.path(), &script[0]);
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            expected,
            "{mark}: {stderr}"
        );
    }
}

// docs/federation.md's managed-identity walkthrough, run as written: a user-assigned identity's
// token from serve's platform endpoint is the client assertion of an app that trusts it.
#[test]
fn federation_managed_identity_walkthrough() {
    let config = readme_blocks("file federation-mi.toml");
    assert_eq!(config.len(), 1, "the docs mark one federation-mi.toml");
    let script = readme_blocks("federation-managed-identity");
    assert_eq!(
        script.len(),
        1,
        "the docs mark one federation-managed-identity block"
    );
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(dir.path().join("federation-mi.toml"), &config[0]).unwrap();
    let (_, stdout, stderr) = run_readme_script(dir.path(), &script[0]);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"{"aud":"fb60f99c-7a34-4190-8149-302f77469936","sub":"5e5e5e5e-1111-4000-8000-000000000002"}"#,
            r#"{"appid":"6f1c5e8a-2222-4222-8333-944455556666","roles":["User.Read.All"]}"#,
        ],
        "{stderr}"
    );
}

// docs/managed-identity.md, run as written: serve with managed identities, the exports of its
// ready line, then certgen, Azure Identity for Python, @azure/identity, Rust azure_identity and
// az, each getting the identity's token (and Graph's answer where the block calls Graph).
#[test]
fn docs_managed_identity() {
    let config = readme_blocks("file managed-identity.toml");
    assert_eq!(config.len(), 1, "the docs mark one managed-identity.toml");
    let mut blocks = Vec::new();
    for mark in [
        "managed-identity",
        "managed-identity-python",
        "managed-identity-js",
        "managed-identity-rust",
        "managed-identity-az",
    ] {
        let found = readme_blocks(mark);
        assert_eq!(found.len(), 1, "the docs mark one {mark} block");
        blocks.push(found[0].clone());
    }
    use crate::support::require;
    let Some(python) = require::python(&["azure.identity", "requests"]) else {
        return;
    };
    let Some(node) = require::node_clients() else {
        return;
    };
    let Some(az) = require::azure_cli() else {
        return;
    };
    let Some(_) = require::example("azure_identity_managed") else {
        return;
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(dir.path().join("managed-identity.toml"), &config[0]).unwrap();
    // The readers' python3, node packages and az are the tests' own: put on PATH (and
    // NODE_PATH) ahead of the page's commands, which run as written.
    let bin = dir.path().join(".readme-bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Wrappers, not links: a virtual environment's python finds its packages by its own path.
    for (name, target) in [("python3", std::path::PathBuf::from(&python)), ("az", az)] {
        let wrapper = bin.join(name);
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec '{}' \"$@\"\n", target.display()),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = format!(
        "export NODE_PATH='{}'\n{}",
        node.join("node_modules").display(),
        blocks.concat()
    );
    let (_, stdout, stderr) = run_readme_script(dir.path(), &script);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"appid":"5e5e5e5e-0000-4000-8000-000000000001","roles":["User.Read.All"],"xms_mirid":"/subscriptions/9c2a3317-c396-4d8a-8eb5-9deeb110795a/resourceGroups/certgen/providers/Microsoft.Compute/virtualMachines/vm-5e5e5e5e"}"#,
            "5e5e5e5e-0000-4000-8000-000000000002",
            "python: adele@contoso.example",
            "javascript: 5e5e5e5e-0000-4000-8000-000000000002",
            "rust: 5e5e5e5e-0000-4000-8000-000000000001",
            "adele@contoso.example",
            "Authorization_RequestDenied",
        ],
        "{stderr}"
    );
    // Managed identities need no app: the banner does not ask for one.
    assert!(!stderr.contains("no apps registered"), "{stderr}");
    assert!(
        stderr.contains("managed identities  App Service http://127.0.0.1:"),
        "{stderr}"
    );
}
