//! Throwaway databases for tests, on both engines.
//!
//! PostgreSQL tests read `PANAH_TEST_POSTGRES_URL` (a superuser URL of a throwaway
//! cluster, as `scripts/test.sh` starts one). When `PANAH_REQUIRE_POSTGRES` is set, as it is
//! in CI, a missing URL fails the test instead of skipping PostgreSQL.

use std::path::Path;

use rand::Rng;

use crate::{Location, Store};

/// An SQLite database in `dir`, created fresh.
pub fn sqlite_location(dir: &Path) -> Location {
    Location::Sqlite {
        path: dir.join("panah.db"),
        create: true,
    }
}

/// The throwaway cluster's URL, or `None` when PostgreSQL tests may be skipped.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("PANAH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("PANAH_REQUIRE_POSTGRES").is_some() => {
            panic!("PANAH_REQUIRE_POSTGRES is set but PANAH_TEST_POSTGRES_URL is not: run the tests with scripts/test.sh")
        }
        _ => {
            eprintln!(
                "PANAH_TEST_POSTGRES_URL is not set: skipping PostgreSQL (scripts/test.sh runs it)"
            );
            None
        }
    }
}

/// Creates a new, empty database on the throwaway cluster and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> Location {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("panah_test_{:016x}", rand::thread_rng().gen::<u64>());
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL cluster: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let _ = conn.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    Location::Postgres {
        url: format!("{base}/{name}"),
    }
}

/// A new, empty place in the throwaway S3-compatible server's bucket (`scripts/s3.sh`), or
/// `None` when S3 tests may be skipped.
pub fn s3_config() -> Option<crate::S3Config> {
    match std::env::var("PANAH_TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(crate::S3Config {
            bucket: "panah-test".into(),
            prefix: format!("t{:016x}/", rand::thread_rng().gen::<u64>()),
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
        }),
        _ if std::env::var_os("PANAH_REQUIRE_TOOLS").is_some() => {
            panic!("PANAH_REQUIRE_TOOLS is set but PANAH_TEST_S3_ENDPOINT is not: run the tests with scripts/test.sh")
        }
        _ => {
            eprintln!("PANAH_TEST_S3_ENDPOINT is not set: skipping S3 (scripts/test.sh runs it)");
            None
        }
    }
}

/// Every engine the tests should cover: SQLite always, PostgreSQL when available.
/// Each store is new and empty. `dir` holds the SQLite file.
pub async fn every_engine(dir: &Path) -> Vec<(&'static str, Store)> {
    let mut stores = vec![(
        "sqlite",
        Store::open(&sqlite_location(dir))
            .await
            .expect("open SQLite"),
    )];
    if let Some(admin) = postgres_admin_url() {
        let location = fresh_postgres_database(&admin).await;
        stores.push((
            "postgres",
            Store::open(&location).await.expect("open PostgreSQL"),
        ));
    }
    stores
}
