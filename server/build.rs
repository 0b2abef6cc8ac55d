//! `sqlx::migrate!` embeds every file of the migration folders, but cargo only knows the
//! files it saw at the last build: without this a new migration would not rebuild the
//! server (sqlx's documented remedy).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
