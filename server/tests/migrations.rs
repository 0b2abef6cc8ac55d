//! Start-up migrations: several replicas against one empty database migrate it exactly
//! once and all come up; `ferroflow db upgrade` migrates explicitly.

mod common;

use ferroflow::db::{DatabaseUri, Db};

async fn applied(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// The migration files of a backend, by version.
fn migration_versions(kind: &str) -> Vec<i64> {
    let dir = format!("{}/../migrations/{kind}", env!("CARGO_MANIFEST_DIR"));
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .split('_')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    versions.sort_unstable();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_on_postgres_migrate_once() {
    let uri = DatabaseUri::Postgres(common::fresh_postgres().await);
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            let uri = uri.clone();
            tokio::spawn(async move { Db::connect(&uri).await })
        })
        .collect();
    let mut dbs = Vec::new();
    for r in replicas {
        dbs.push(r.await.unwrap().expect("every replica comes up"));
    }
    let migrations = migration_versions("postgres").len() as i64;
    for db in &dbs {
        assert_eq!(
            applied(db).await,
            migrations,
            "each migration recorded once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_on_sqlite_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let uri = DatabaseUri::Sqlite(dir.path().join("shared.db"));
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            let uri = uri.clone();
            tokio::spawn(async move { Db::connect(&uri).await })
        })
        .collect();
    for r in replicas {
        let db = r.await.unwrap().expect("every replica comes up");
        assert_eq!(
            applied(&db).await,
            migration_versions("sqlite").len() as i64
        );
    }
}

#[test]
fn db_upgrade_migrates_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("cli.db").display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["db", "upgrade", &uri])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let latest = migration_versions("sqlite").last().copied().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("schema version {latest}")));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ferroflow"))
        .args(["db", "upgrade", "mysql://x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unsupported backend store URI"));
}
