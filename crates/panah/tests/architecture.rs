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
