//! The man pages in `man/` are rendered from the clap definitions by clap_mangen: `certgen.1` and
//! one page per subcommand (`certgen-new.1`, `certgen-credential-add.1`, …). This test renders
//! them again and fails when the committed files differ; `CERTGEN_UPDATE_MAN=1 cargo test man`
//! rewrites them (and removes pages of subcommands that are gone).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::Cli;

/// The `.1` files of a folder, by file name.
fn pages(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.expect("read man/").path())
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read a man page"))
        })
        .collect()
}

#[test]
fn man_pages_are_current() {
    let rendered_dir = tempfile::tempdir().expect("temporary folder");
    clap_mangen::generate_to(Cli::command(), rendered_dir.path()).expect("render the man pages");
    let rendered = pages(rendered_dir.path());
    assert!(rendered.contains_key("certgen.1"), "{:?}", rendered.keys());
    assert!(
        rendered.contains_key("certgen-new.1"),
        "{:?}",
        rendered.keys()
    );

    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man");
    if std::env::var_os("CERTGEN_UPDATE_MAN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&committed_dir).expect("make man/");
        for name in pages(&committed_dir).keys() {
            if !rendered.contains_key(name) {
                std::fs::remove_file(committed_dir.join(name)).expect("remove a stale page");
            }
        }
        for (name, text) in &rendered {
            std::fs::write(committed_dir.join(name), text).expect("write a man page");
        }
        return;
    }

    let committed = pages(&committed_dir);
    let missing: Vec<_> = rendered
        .keys()
        .filter(|n| !committed.contains_key(*n))
        .collect();
    let stale: Vec<_> = committed
        .keys()
        .filter(|n| !rendered.contains_key(*n))
        .collect();
    let changed: Vec<_> = rendered
        .iter()
        .filter(|(n, text)| committed.get(*n).is_some_and(|c| c != *text))
        .map(|(n, _)| n)
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty() && changed.is_empty(),
        "man/ is not what the clap definitions render (missing {missing:?}, stale {stale:?}, \
         changed {changed:?}); run `CERTGEN_UPDATE_MAN=1 cargo test -p certgen-cli man` and \
         commit man/"
    );
}
