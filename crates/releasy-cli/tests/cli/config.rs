//! Settings precedence (flag, then environment, then profile file) and completions.

use crate::helpers::{ADMIN_KEY, Cli, Storage, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_beat_environment_beat_the_profile_file() {
    let server = TestServer::start(Storage::Embedded).await;
    let dir = server.path(".config/releasy");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "url = \"http://127.0.0.1:9\"\n\n[profiles.local]\nurl = \"{}\"\nadmin_key = \"{}\"\n",
            server.base_url, ADMIN_KEY
        ),
    )
    .expect("profile file");

    // The profile alone is enough to work.
    let shown = server
        .bare()
        .args(["--profile", "local", "config", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(shown["url"]["source"], "profile");
    assert_eq!(shown["admin_key"]["source"], "profile");
    assert_eq!(shown["admin_key"]["set"], true);
    assert!(!shown.to_string().contains(ADMIN_KEY));
    server
        .bare()
        .env("RELEASY_PROFILE", "local")
        .args(["customer", "list"])
        .run()
        .await
        .ok();

    // The environment beats the profile, and a flag beats both.
    let shown = server
        .bare()
        .env("RELEASY_URL", "http://127.0.0.1:1")
        .args(["--profile", "local", "config", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(shown["url"]["source"], "env");
    assert_eq!(shown["url"]["value"], "http://127.0.0.1:1/");
    let shown = server
        .bare()
        .env("RELEASY_URL", "http://127.0.0.1:1")
        .args([
            "--url",
            "http://127.0.0.1:2",
            "--profile",
            "local",
            "config",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(shown["url"]["source"], "flag");

    // Without a profile, the file's top level applies (an unreachable URL here).
    server
        .bare()
        .env("RELEASY_ADMIN_API_KEY", ADMIN_KEY)
        .args(["customer", "list"])
        .run()
        .await
        .fails_with(6);
    // An unknown profile is a usage error.
    server
        .bare()
        .args(["--profile", "nope", "config"])
        .run()
        .await
        .fails_with(2);

    // A profile the file's `default_profile` chose is named as the one used.
    let chosen = server.path("chosen.toml");
    std::fs::write(
        &chosen,
        format!(
            "default_profile = \"local\"\n\n[profiles.local]\nurl = \"{}\"\n",
            server.base_url
        ),
    )
    .expect("profile file");
    let shown = server
        .bare()
        .env("RELEASY_CONFIG", &chosen)
        .args(["config", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(shown["profile"], "local", "{shown}");
    assert_eq!(shown["url"]["source"], "profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().expect("dir");
    for shell in ["bash", "zsh", "fish"] {
        let script = Cli::new(dir.path())
            .args(["completions", shell])
            .run()
            .await
            .ok();
        assert!(script.stdout.contains("releasy"), "{shell}: {script:#?}");
        assert!(script.stdout.contains("download"), "{shell}");
    }
}
