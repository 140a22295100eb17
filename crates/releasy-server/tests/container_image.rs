//! `deploy/Dockerfile` cannot be built here (no container registry), so its runtime
//! stage is read and held against the binary: the commands it runs exist and work, its
//! environment is a valid configuration, and its paths and port agree with it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_releasy-server");

/// One Dockerfile instruction: its keyword (upper case) and the rest of its line,
/// continuation lines joined.
struct Instruction {
    keyword: String,
    arguments: String,
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn instructions() -> Vec<Instruction> {
    let text = std::fs::read_to_string(repository().join("deploy/Dockerfile")).unwrap();
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (keyword, arguments) = line.split_once(char::is_whitespace).unwrap();
            Instruction {
                keyword: keyword.to_ascii_uppercase(),
                arguments: arguments.trim().to_owned(),
            }
        })
        .collect()
}

/// The instructions after the last `FROM`: what the image runs with.
fn runtime_stage() -> Vec<Instruction> {
    let all = instructions();
    let last_from = all.iter().rposition(|i| i.keyword == "FROM").unwrap();
    all.into_iter().skip(last_from + 1).collect()
}

fn one<'a>(stage: &'a [Instruction], keyword: &str) -> &'a str {
    let found: Vec<_> = stage.iter().filter(|i| i.keyword == keyword).collect();
    assert_eq!(found.len(), 1, "one {keyword} in the runtime stage");
    &found[0].arguments
}

/// A JSON-array (exec form) argument list.
fn exec_form(arguments: &str) -> Vec<String> {
    serde_json::from_str(arguments).unwrap_or_else(|_| panic!("not exec form: {arguments}"))
}

/// `ENV A=1 B=2` as a map (values without spaces or quotes, as in our file).
fn environment(stage: &[Instruction]) -> HashMap<String, String> {
    stage
        .iter()
        .filter(|i| i.keyword == "ENV")
        .flat_map(|i| i.arguments.split_whitespace())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Runs the binary with `args` and exactly `env` as its `RELEASY_*` environment.
fn run(args: &[&str], env: &HashMap<String, String>, cwd: &Path) -> Output {
    command(args, env, cwd).output().unwrap()
}

fn command(args: &[&str], env: &HashMap<String, String>, cwd: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(cwd);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("RELEASY_")) {
        command.env_remove(name);
    }
    command.envs(env).env("NO_COLOR", "1");
    command
}

#[test]
fn the_runtime_stage_runs_the_server_as_a_non_root_user_with_data_under_the_volume() {
    let stage = runtime_stage();
    let user = one(&stage, "USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "USER {user}");

    let entrypoint = exec_form(one(&stage, "ENTRYPOINT"));
    assert_eq!(entrypoint, ["/usr/local/bin/releasy-server"]);
    let copies: Vec<&str> = stage
        .iter()
        .filter(|i| i.keyword == "COPY")
        .map(|i| i.arguments.as_str())
        .collect();
    assert!(
        copies
            .iter()
            .any(|c| c.contains("/releasy-server ") && c.ends_with(" /usr/local/bin/")),
        "the entrypoint is copied in: {copies:?}"
    );
    assert!(
        copies
            .iter()
            .any(|c| c.contains("/releasy ") && c.ends_with(" /usr/local/bin/")),
        "the CLI is in the image: {copies:?}"
    );

    let env = environment(&stage);
    let data_dir = &env["RELEASY_DATA_DIR"];
    assert_eq!(exec_form(one(&stage, "VOLUME")), [data_dir.as_str()]);
    assert_eq!(one(&stage, "WORKDIR"), data_dir);
    assert!(
        copies.iter().any(|c| c.contains(&format!("--chown={user}"))
            && c.ends_with(&format!(" {data_dir}"))),
        "the data directory belongs to the runtime user: {copies:?}"
    );
    let port = env["RELEASY_BIND_ADDR"].rsplit(':').next().unwrap();
    assert_eq!(one(&stage, "EXPOSE"), port);
    assert_eq!(
        one(&stage, "STOPSIGNAL"),
        "SIGTERM",
        "the server drains on SIGTERM"
    );
}

#[test]
fn the_build_stage_builds_the_binaries_the_runtime_stage_copies() {
    let build: Vec<Instruction> = instructions()
        .into_iter()
        .take_while(|i| !(i.keyword == "FROM" && i.arguments.contains("AS runtime")))
        .collect();
    let commands: String = build
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| i.arguments.as_str())
        .collect();
    assert!(commands.contains("cargo build --release --locked -p releasy-server -p releasy-cli"));
    // The CLI crate's binary is `releasy`.
    let cli_manifest =
        std::fs::read_to_string(repository().join("crates/releasy-cli/Cargo.toml")).unwrap();
    assert!(cli_manifest.contains("[[bin]]\nname = \"releasy\""));
    for binary in ["releasy-server", "releasy"] {
        assert!(
            commands.contains(&format!("target/release/{binary} ")),
            "{binary} is copied out of the build: {commands}"
        );
    }
}

#[test]
fn the_image_commands_exist_and_its_environment_is_a_valid_configuration() {
    let stage = runtime_stage();
    let env = environment(&stage);
    for name in env.keys() {
        assert!(name.starts_with("RELEASY_"), "{name}");
    }
    let cwd = tempfile::tempdir().unwrap();
    let default_command = exec_form(one(&stage, "CMD"));
    let healthcheck = one(&stage, "HEALTHCHECK");
    let health = exec_form(&healthcheck[healthcheck.find("CMD ").unwrap() + 4..]);
    assert_eq!(health[0], exec_form(one(&stage, "ENTRYPOINT"))[0]);
    for args in [
        &default_command[..],
        &health[1..],
        &["check-config".to_owned()][..],
    ] {
        let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
        with_help.push("--help");
        let output = run(&with_help, &env, cwd.path());
        assert!(output.status.success(), "{with_help:?}: {output:?}");
    }

    let output = run(&["check-config"], &env, cwd.path());
    assert!(output.status.success(), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    for (name, value) in &env {
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with(name.as_str()) && l.ends_with(value.as_str())),
            "{name}={value} is not what the server runs with: {shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_passes_on_a_live_server_and_fails_without_one() {
    let stage = runtime_stage();
    let healthcheck = one(&stage, "HEALTHCHECK");
    let health = exec_form(&healthcheck[healthcheck.find("CMD ").unwrap() + 4..]);
    let health: Vec<&str> = health[1..].iter().map(String::as_str).collect();

    // The image's environment, on a free port and in a scratch data directory.
    let data = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env = environment(&stage);
    env.insert("RELEASY_BIND_ADDR".into(), format!("0.0.0.0:{port}"));
    env.insert("RELEASY_DATA_DIR".into(), data.path().display().to_string());

    let refused = run(&health, &env, data.path());
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no answer"));

    let mut server = command(&[], &env, data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let passed = loop {
        let output = run(&health, &env, data.path());
        if output.status.success() {
            break output;
        }
        assert!(Instant::now() < deadline, "never healthy: {output:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        String::from_utf8(passed.stdout).unwrap(),
        format!("http://127.0.0.1:{port}/live: live\n")
    );
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}
