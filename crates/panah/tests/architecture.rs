//! Architecture invariants that must hold in the dependency graph.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn normal_deps(package: &str) -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree", "--locked", "-e", "normal", "--prefix", "none", "-p", package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The server never holds a coordinator's private key: the keyring code is not among
/// its dependencies, directly or through another crate.
#[test]
fn the_server_cannot_reach_the_keyring() {
    let tree = normal_deps("panah-server");
    assert!(
        tree.lines().any(|l| l.starts_with("panah-store")),
        "the tree was read: {tree}"
    );
    assert!(
        !tree.contains("panah-keyring"),
        "panah-server depends on panah-keyring:\n{tree}"
    );
}

/// The core, the catalogues and the API's JSON types know no HTTP and no SQL.
#[test]
fn the_core_knows_no_http_or_sql() {
    for package in ["panah-core", "panah-i18n", "panah-api"] {
        let tree = normal_deps(package);
        for forbidden in [
            "axum ",
            "hyper ",
            "sqlx ",
            "reqwest ",
            "panah-store",
            "panah-server",
        ] {
            assert!(
                !tree.contains(forbidden),
                "{package} depends on {forbidden}:\n{tree}"
            );
        }
    }
}

/// The helpers for tests (throwaway databases, older schemas, reading a codename back from
/// a page) are features that only tests turn on: the release binary has none of them.
#[test]
fn the_release_binary_has_no_test_helpers() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "-e",
            "normal,features",
            "--prefix",
            "none",
            "-p",
            "panah",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(out.status.success());
    let tree = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        tree.lines()
            .any(|l| l.starts_with("panah-store feature \"default\"")),
        "the features were read: {tree}"
    );
    for package in ["panah-store", "panah-server"] {
        assert!(
            !tree.contains(&format!("{package} feature \"testing\"")),
            "the release binary turns on {package}'s test helpers:\n{tree}"
        );
    }
}

/// The hub depends on none of the coordinator's client code: not the keyring, not the
/// client library (which holds an unlocked keyring in memory).
#[test]
fn the_server_cannot_reach_the_client_library() {
    let tree = normal_deps("panah-server");
    assert!(
        !tree.contains("panah-client"),
        "panah-server depends on panah-client:\n{tree}"
    );
}

/// The libraries print nothing: what a person must see (a warning, a first-use notice, a
/// receipt code) is returned as a value, and each front end (the binary, the desk) shows
/// it its own way. Only `panah`'s own source prints.
#[test]
fn the_libraries_print_nothing() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for lib in [
        "panah-core",
        "panah-i18n",
        "panah-store",
        "panah-keyring",
        "panah-server",
        "panah-api",
        "panah-client",
    ] {
        let mut dirs = vec![crates.join(lib).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                // `testing.rs` is a tests-only feature (see above); it may say what it skips.
                if path.extension().is_some_and(|e| e == "rs")
                    && path.file_name().is_some_and(|n| n != "testing.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for word in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
                        assert!(
                            !text.contains(word),
                            "{} uses {word}: return the text as a value instead",
                            path.display()
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} files were read");
}
