//! `releasy-server backup` (issue 17): an online copy of the SQLite database, made while
//! a server writes to it, restored by starting a server on the copy and compared.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod process;

use std::collections::HashSet;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use process::{customers_named, free_port, server_command, spawn, terminate, wait_until_live};

const ADMIN_KEY: &str = "backup-test-admin-key-of-32-characters";

fn backup_command(cwd: &std::path::Path, database: &str, destination: &str) -> Command {
    let mut command = server_command(
        cwd,
        &["backup", destination],
        &[("RELEASY_DATABASE_URL", database.to_owned())],
    );
    command.stdin(std::process::Stdio::null());
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every customer's id.
async fn customer_ids(client: &reqwest::Client, base: &str) -> HashSet<String> {
    customers_named(client, base, ADMIN_KEY, "")
        .await
        .iter()
        .map(|customer| customer["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates customers until `stop`, noting each acknowledged one.
async fn create_until(base: String, stop: Arc<AtomicBool>, created: Arc<Mutex<Vec<String>>>) {
    let client = reqwest::Client::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let response = client
            .post(format!("{base}/v1/admin/customers"))
            .header("x-releasy-admin-key", ADMIN_KEY)
            .json(&json!({"name": format!("Backed up {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        created
            .lock()
            .unwrap()
            .push(body["id"].as_str().unwrap().to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_to_a_consistent_database() {
    let cwd = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/live.db", cwd.path().display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vars = [
        ("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")),
        ("RELEASY_DATABASE_URL", database.clone()),
        ("RELEASY_ADMIN_API_KEY", ADMIN_KEY.to_owned()),
    ];
    let mut server = spawn(cwd.path(), &vars);
    wait_until_live(&base, &mut server).await;

    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(create_until(base.clone(), stop.clone(), created.clone())))
        .collect();
    while created.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // What was acknowledged before the backup began must be in it.
    let before: HashSet<String> = created.lock().unwrap().iter().cloned().collect();
    let copy = cwd.path().join("copy.db");
    let copy_arg = copy.display().to_string();
    let backup = tokio::task::spawn_blocking({
        let cwd = cwd.path().to_owned();
        let database = database.clone();
        move || backup_command(&cwd, &database, &copy_arg).output().unwrap()
    })
    .await
    .unwrap();
    let during = created.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(backup.status.success(), "{}", text(&backup));
    let printed = String::from_utf8(backup.stdout.clone()).unwrap();
    assert!(
        printed.starts_with("backed up ") && printed.contains(", integrity ok, in "),
        "{printed}"
    );
    assert!(
        !cwd.path().join("copy.db.partial").exists(),
        "nothing is left beside the copy"
    );
    let all: HashSet<String> = created.lock().unwrap().iter().cloned().collect();
    assert!(all.len() > during, "the writes went on after the backup");
    let (exit, output) = terminate(&mut server);
    assert!(exit.success(), "{output}");

    // Restored: a server started on the copy serves what it holds.
    let restored_port = free_port();
    let restored_base = format!("http://127.0.0.1:{restored_port}");
    let restored_database = format!("sqlite://{}", copy.display());
    let mut restored = spawn(
        cwd.path(),
        &[
            ("RELEASY_BIND_ADDR", format!("127.0.0.1:{restored_port}")),
            ("RELEASY_DATABASE_URL", restored_database.clone()),
            ("RELEASY_ADMIN_API_KEY", ADMIN_KEY.to_owned()),
        ],
    );
    wait_until_live(&restored_base, &mut restored).await;
    let client = reqwest::Client::new();
    let in_copy = customer_ids(&client, &restored_base).await;
    assert!(
        before.is_subset(&in_copy),
        "{} acknowledged before the backup are missing from it",
        before.difference(&in_copy).count()
    );
    assert!(
        in_copy.is_subset(&all),
        "the copy holds nothing never written"
    );
    let (exit, output) = terminate(&mut restored);
    assert!(exit.success(), "{output}");
    // The copy is one instant of the database: the audit trail's hash chain, written
    // with every create, is intact in it.
    let verified = server_command(
        cwd.path(),
        &["audit", "verify"],
        &[("RELEASY_DATABASE_URL", restored_database)],
    )
    .output()
    .unwrap();
    assert!(verified.status.success(), "{}", text(&verified));
    eprintln!(
        "backup under writes: {} customers acknowledged before it, {} in the copy, {} in all",
        before.len(),
        in_copy.len(),
        all.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_overwrites_and_refuses_what_it_cannot_copy() {
    let cwd = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/live.db", cwd.path().display());
    let migrated = server_command(
        cwd.path(),
        &["migrate"],
        &[("RELEASY_DATABASE_URL", database.clone())],
    )
    .output()
    .unwrap();
    assert!(migrated.status.success(), "{}", text(&migrated));

    let existing = cwd.path().join("existing.db");
    std::fs::write(&existing, b"keep me").unwrap();
    let refused = backup_command(cwd.path(), &database, &existing.display().to_string())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("exists; a backup never overwrites a file"));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

    let missing = format!("sqlite://{}/missing.db?mode=rw", cwd.path().display());
    let refused = backup_command(cwd.path(), &missing, "copy.db")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("no database at"),
        "{}",
        text(&refused)
    );
    assert!(!cwd.path().join("copy.db").exists());

    let postgres = backup_command(
        cwd.path(),
        "postgres://postgres@127.0.0.1:5432/postgres",
        "copy.db",
    )
    .output()
    .unwrap();
    assert_eq!(postgres.status.code(), Some(2), "{}", text(&postgres));
    assert!(text(&postgres).contains("pg_dump"));

    // A report that cannot be written (standard output on a full disk) leaves the
    // backup in place and says so: exit 1 would tell the script nothing is there.
    let unreported = backup_command(cwd.path(), &database, "unreported.db")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert!(unreported.status.success(), "{}", text(&unreported));
    assert!(
        text(&unreported).contains("the backup is complete, but its report could not be written"),
        "{}",
        text(&unreported)
    );
    assert!(cwd.path().join("unreported.db").is_file());
}

/// A backup stopped by a signal (Ctrl-C, `timeout`, systemd) removes its partial copy:
/// cron jobs under a timeout must not fill the disk with them. The copy is held at its
/// start by a writer's exclusive lock (a database in rollback-journal mode), so the
/// signal arrives while it runs.
#[test]
fn a_backup_stopped_by_a_signal_leaves_nothing_behind() {
    use diesel::{Connection, RunQueryDsl, sqlite::SqliteConnection};

    let cwd = tempfile::tempdir().unwrap();
    let path = cwd.path().join("locked.db");
    let mut writer = SqliteConnection::establish(&path.display().to_string()).unwrap();
    diesel::sql_query("CREATE TABLE t (x INTEGER)")
        .execute(&mut writer)
        .unwrap();
    diesel::sql_query("BEGIN EXCLUSIVE")
        .execute(&mut writer)
        .unwrap();
    let database = format!("sqlite://{}?mode=rw", path.display());
    let mut backup = backup_command(cwd.path(), &database, "copy.db")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let partials = || -> Vec<String> {
        std::fs::read_dir(cwd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".partial-"))
            .collect()
    };
    let waited = std::time::Instant::now();
    while partials().is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(10), "no copy began");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, output) = terminate(&mut backup);
    assert_eq!(status.code(), Some(143), "{output}");
    assert!(output.contains("stopped by SIGTERM"), "{output}");
    assert_eq!(partials(), Vec::<String>::new());
    assert!(!cwd.path().join("copy.db").exists());
}
