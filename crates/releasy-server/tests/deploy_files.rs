//! The deployment files in `deploy/` cannot be run here (no container registry, no
//! Docker, no cluster), so they are read and held against the binary and each other:
//! the commands they run exist, their environments are valid configurations, and their
//! paths, ports, users and service names agree. (`.ci/run` also lints the Dockerfile
//! with hadolint and validates the Kubernetes manifests against the API's schemas.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod process;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize as _;
use serde_yaml_ng::Value;

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
    let vars: Vec<(&str, String)> = env
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    process::server_command(cwd, args, &vars)
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
    let port = process::free_port();
    let mut env = environment(&stage);
    env.insert("RELEASY_BIND_ADDR".into(), format!("0.0.0.0:{port}"));
    env.insert("RELEASY_DATA_DIR".into(), data.path().display().to_string());

    let refused = run(&health, &env, data.path());
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no answer"));

    let mut server = KillOnDrop(
        command(&[], &env, data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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
    // The Kubernetes probes' paths answer 200 on the same server.
    for path in kubernetes_probe_paths() {
        let answer = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
    let (stopped, _) = process::terminate(&mut server.0);
    assert!(stopped.success());
}

/// A server process that does not outlive a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A YAML file of `deploy/`, merge keys (`<<:`) applied.
fn yaml(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repository().join("deploy").join(path)).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = Value::deserialize(document).unwrap();
            value.apply_merge().unwrap();
            value
        })
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_sequence().unwrap().iter().map(text).collect()
}

fn string_map(value: &Value) -> HashMap<String, String> {
    value
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (text(k), text(v)))
        .collect()
}

/// Runs `--help` for a command, and asserts it exists.
fn assert_is_a_command(args: &[String]) {
    let cwd = tempfile::tempdir().unwrap();
    let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
    with_help.push("--help");
    let output = run(&with_help, &HashMap::new(), cwd.path());
    assert!(output.status.success(), "{args:?}: {output:?}");
}

/// Asserts `env` is a configuration `check-config` accepts.
fn assert_valid_configuration(env: &HashMap<String, String>) {
    let cwd = tempfile::tempdir().unwrap();
    let output = run(&["check-config"], env, cwd.path());
    assert!(output.status.success(), "{env:?}: {output:?}");
}

/// What the image listens on, from the Dockerfile.
fn image_port() -> String {
    one(&runtime_stage(), "EXPOSE").to_owned()
}

#[test]
fn compose_runs_migrations_once_then_two_instances_behind_the_proxy() {
    let compose = &yaml("compose.yaml")[0];
    let services = compose["services"].as_mapping().unwrap();
    let service = |name: &str| &compose["services"][name];
    let stop_grace = text(&compose["x-releasy"]["stop_grace_period"]);
    assert!(
        stop_grace.trim_end_matches('s').parse::<u64>().unwrap() > stopping_seconds(),
        "{stop_grace}: longer than the drain and the last writes"
    );

    // The migrations first, once, after PostgreSQL is healthy.
    let migrate = service("migrate");
    assert_eq!(strings(&migrate["command"]), ["migrate"]);
    assert_is_a_command(&strings(&migrate["command"]));
    assert_eq!(text(&migrate["restart"]), "no");
    assert_eq!(
        text(&migrate["depends_on"]["postgres"]["condition"]),
        "service_healthy"
    );

    // Every instance serves after the migrations and the bucket.
    let instances: Vec<String> = services
        .keys()
        .map(text)
        .filter(|name| name.starts_with("releasy-"))
        .collect();
    assert!(instances.len() >= 2, "{instances:?}");
    for name in &instances {
        let instance = service(name);
        assert_eq!(strings(&instance["command"]), ["serve"]);
        assert_is_a_command(&strings(&instance["command"]));
        assert_eq!(instance["image"], migrate["image"]);
        for before in ["migrate", "bucket"] {
            assert_eq!(
                text(&instance["depends_on"][before]["condition"]),
                "service_completed_successfully",
                "{name} waits for {before}"
            );
        }
        assert_eq!(
            text(&service("proxy")["depends_on"][name.as_str()]["condition"]),
            "service_healthy",
            "the proxy waits for {name}'s health check"
        );
    }

    // The proxy spreads requests over every instance, on the port the image listens on.
    let proxy = strings(&service("proxy")["command"]);
    let targets: Vec<&String> = proxy
        .iter()
        .zip(proxy.iter().skip(1))
        .filter(|(flag, _)| *flag == "--to")
        .map(|(_, target)| target)
        .collect();
    let expected: Vec<String> = instances
        .iter()
        .map(|name| format!("{name}:{}", image_port()))
        .collect();
    assert_eq!(targets, expected.iter().collect::<Vec<_>>());

    // One environment for all, valid, and pointing at the services it names.
    let mut env = string_map(&migrate["environment"]);
    for name in &instances {
        assert_eq!(string_map(&service(name)["environment"]), env);
    }
    let admin_key = env["RELEASY_ADMIN_API_KEY"].clone();
    assert!(
        admin_key.starts_with("${RELEASY_ADMIN_API_KEY:?"),
        "{admin_key}"
    );
    env.insert(
        "RELEASY_ADMIN_API_KEY".into(),
        "a-key-of-forty-characters-for-the-tests0".into(),
    );
    assert_valid_configuration(&env);

    let postgres = string_map(&service("postgres")["environment"]);
    assert_eq!(
        env["RELEASY_DATABASE_URL"],
        format!(
            "postgres://{}:{}@postgres:5432/{}",
            postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"]
        )
    );
    let minio = string_map(&service("minio")["environment"]);
    assert_eq!(env["RELEASY_ARTIFACT_ACCESS_KEY"], minio["MINIO_ROOT_USER"]);
    assert_eq!(
        env["RELEASY_ARTIFACT_SECRET_KEY"],
        minio["MINIO_ROOT_PASSWORD"]
    );
    assert_eq!(env["RELEASY_ARTIFACT_ENDPOINT"], "http://minio:9000");
    let bucket_script = strings(&service("bucket")["command"]).join(" ");
    assert!(
        bucket_script.contains(&format!("local/{}", env["RELEASY_ARTIFACT_BUCKET"])),
        "{bucket_script}"
    );
    // Links point at the proxy's published port.
    let published = strings(&service("proxy")["ports"]);
    let public_port = env["RELEASY_PUBLIC_BASE_URL"]
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(published, [format!("{public_port}:{}", image_port())]);
}

fn kubernetes(file: &str) -> Value {
    yaml(&format!("kubernetes/{file}")).remove(0)
}

fn kubernetes_probe_paths() -> Vec<String> {
    let deployment = kubernetes("deployment.yaml");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    ["readinessProbe", "livenessProbe", "startupProbe"]
        .iter()
        .map(|probe| text(&container[*probe]["httpGet"]["path"]))
        .collect()
}

#[test]
fn the_kubernetes_manifests_agree_with_the_image_and_the_binary() {
    let stage = runtime_stage();
    let image_env = environment(&stage);
    let uid: u64 = one(&stage, "USER")
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let mut env: HashMap<String, String> = string_map(&kubernetes("configmap.yaml")["data"]);
    env.extend(string_map(&kubernetes("secret.example.yaml")["stringData"]));
    env.extend(image_env.clone());
    assert_valid_configuration(&env);

    for (file, name) in [
        ("deployment.yaml", "releasy"),
        ("migrate-job.yaml", "migrate"),
    ] {
        let pod = &kubernetes(file)["spec"]["template"]["spec"];
        assert_eq!(
            pod["securityContext"]["runAsUser"].as_u64(),
            Some(uid),
            "{file}"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
        assert_eq!(
            pod["enableServiceLinks"].as_bool(),
            Some(false),
            "{file}: the Service's RELEASY_SERVICE_* variables stay out"
        );
        let container = &pod["containers"][0];
        assert_eq!(text(&container["name"]), name);
        assert_is_a_command(&strings(&container["args"]));
        let sources: Vec<String> = container["envFrom"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|source| {
                let reference = source
                    .get("configMapRef")
                    .or_else(|| source.get("secretRef"))
                    .unwrap();
                text(&reference["name"])
            })
            .collect();
        assert_eq!(
            sources,
            ["releasy", "releasy"],
            "{file}: the ConfigMap and the Secret"
        );
    }
    assert_eq!(
        strings(
            &kubernetes("migrate-job.yaml")["spec"]["template"]["spec"]["containers"][0]["args"]
        ),
        ["migrate"]
    );

    let deployment = kubernetes("deployment.yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(strings(&container["args"]), ["serve"]);
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    assert_eq!(
        text(&container["ports"][0]["containerPort"]),
        image_port(),
        "the container port is the image's"
    );
    // Metrics on a port of their own, which the container names and the pods'
    // annotations point Prometheus at.
    let metrics_port = env["RELEASY_METRICS_BIND_ADDR"]
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(text(&container["ports"][1]["name"]), "metrics");
    assert_eq!(text(&container["ports"][1]["containerPort"]), metrics_port);
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(text(&annotations["prometheus.io/port"]), metrics_port);
    assert_eq!(text(&annotations["prometheus.io/path"]), "/metrics");
    assert_eq!(kubernetes_probe_paths(), ["/ready", "/live", "/live"]);
    // The startup probe waits out migrations (this instance's, or the Job's lock).
    let startup = &container["startupProbe"];
    assert!(
        startup["periodSeconds"].as_u64().unwrap() * startup["failureThreshold"].as_u64().unwrap()
            >= 300
    );
    let grace = releasy_server::settings::Settings::load(None, Some(env.clone()))
        .unwrap()
        .shutdown_grace_seconds;
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    assert!(
        pre_stop > 0,
        "endpoints drop the pod before it stops listening"
    );
    assert!(
        pod["terminationGracePeriodSeconds"].as_u64().unwrap()
            > pre_stop + grace + releasy_throughput::SHUTDOWN_WRITE_LIMIT.as_secs(),
        "longer than the pre-stop pause, the server's drain ({grace} s) and its last writes"
    );
    assert_eq!(
        text(&container["volumeMounts"][0]["mountPath"]),
        image_env["RELEASY_DATA_DIR"],
        "a writable data directory under a read-only root"
    );
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );

    // The Ingress serves the public base URL's host through the Service; the autoscaler
    // scales the Deployment, from two.
    let ingress = kubernetes("ingress.yaml");
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(
        format!("https://{}", text(&rule["host"])),
        env["RELEASY_PUBLIC_BASE_URL"]
    );
    let backend = &rule["http"]["paths"][0]["backend"]["service"];
    let service = kubernetes("service.yaml");
    assert_eq!(backend["name"], service["metadata"]["name"]);
    assert_eq!(backend["port"]["name"], service["spec"]["ports"][0]["name"]);
    assert_eq!(text(&service["spec"]["ports"][0]["targetPort"]), "http");
    let autoscaler = kubernetes("horizontal-pod-autoscaler.yaml");
    assert_eq!(
        autoscaler["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    assert!(autoscaler["spec"]["minReplicas"].as_u64().unwrap() >= 2);

    // The kustomization applies every manifest but the example secret.
    let mut listed = strings(&kubernetes("kustomization.yaml")["resources"]);
    listed.sort();
    let mut files: Vec<String> = std::fs::read_dir(repository().join("deploy/kubernetes"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "kustomization.yaml" && name != "secret.example.yaml")
        .collect();
    files.sort();
    assert_eq!(listed, files);
}

/// The longest a stopping server takes by default: the drain, then the queued rows'
/// writes. Supervisors must wait longer before they kill it.
fn stopping_seconds() -> u64 {
    let drain = releasy_server::settings::Settings::load(None, Some(HashMap::new()))
        .unwrap()
        .shutdown_grace_seconds;
    drain + releasy_throughput::SHUTDOWN_WRITE_LIMIT.as_secs()
}

/// `key=value` lines of the systemd unit's `[Service]` section, by key (the last wins).
fn unit_service() -> HashMap<String, String> {
    let unit = std::fs::read_to_string(repository().join("deploy/releasy.service")).unwrap();
    unit.lines()
        .skip_while(|line| line.trim() != "[Service]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The Debian package's assets (`[package.metadata.deb]` of releasy-server): source
/// (relative to the crate), destination, mode.
fn package_assets() -> (toml::Table, Vec<(String, String, String)>) {
    let manifest: toml::Table =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let deb = manifest["package"]["metadata"]["deb"]
        .as_table()
        .unwrap()
        .clone();
    let assets = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| {
            let asset = asset.as_array().unwrap();
            let text = |i: usize| asset[i].as_str().unwrap().to_owned();
            (text(0), text(1), text(2))
        })
        .collect();
    (deb, assets)
}

#[test]
fn the_debian_package_installs_what_its_unit_starts() {
    let (deb, assets) = package_assets();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let installed = |destination: &str| {
        assets
            .iter()
            .find(|(source, dest, _)| {
                let file_name = Path::new(source).file_name().unwrap().to_str().unwrap();
                dest.trim_start_matches('/') == destination.trim_start_matches('/')
                    || (dest.ends_with('/')
                        && format!("{dest}{file_name}") == destination.trim_start_matches('/'))
            })
            .unwrap_or_else(|| panic!("the package installs no {destination}: {assets:?}"))
    };
    // Every file it packs exists (the binaries are built by cargo deb).
    for (source, _, _) in &assets {
        if !source.starts_with("target/release/") {
            assert!(crate_dir.join(source).is_file(), "{source} is missing");
        }
    }
    installed("usr/bin/releasy");

    let service = unit_service();
    assert!(
        service["TimeoutStopSec"].parse::<u64>().unwrap() > stopping_seconds(),
        "longer than the drain and the last writes"
    );
    // What it writes is its user's alone; a refused configuration is not restarted.
    assert_eq!(service["UMask"], "0027");
    assert_eq!(service["StateDirectoryMode"], "0750");
    assert_eq!(service["RestartPreventExitStatus"], "2");
    // Each connection holds a file descriptor: the unit allows the default connection
    // limit and the files being sent beside it.
    let defaults = releasy_server::settings::Settings::load(None, Some(HashMap::new())).unwrap();
    let files: usize = service["LimitNOFILE"].parse().unwrap();
    assert!(files >= 2 * defaults.max_connections, "LimitNOFILE {files}");
    let exec_start: Vec<&str> = service["ExecStart"].split_whitespace().collect();
    assert_eq!(exec_start[0], "/usr/bin/releasy-server");
    installed("usr/bin/releasy-server");
    assert_eq!(exec_start[1], "--config");
    let (settings_source, _, settings_mode) = installed(exec_start[2]);
    assert_eq!(settings_mode, "644");
    let secrets = service["EnvironmentFile"].trim_start_matches('-');
    let (_, _, secrets_mode) = installed(secrets);
    assert_eq!(secrets_mode, "600", "{secrets} holds secrets");
    assert!(secrets.starts_with("/etc/"), "a conffile an upgrade keeps");

    // The unit's user is the one the package's postinst makes, and its state
    // directory is where the packaged settings keep the data.
    let scripts = crate_dir.join(deb["maintainer-scripts"].as_str().unwrap());
    let postinst = std::fs::read_to_string(scripts.join("postinst")).unwrap();
    assert!(
        postinst.contains("#DEBHELPER#"),
        "cargo deb inserts the unit's enabling there"
    );
    let user = &service["User"];
    assert!(
        postinst.contains(&format!("--home /var/lib/{user} --no-create-home"))
            && postinst.contains(&format!("--quiet {user}")),
        "postinst makes the {user} user"
    );
    assert_eq!(service["StateDirectory"], *user);
    let units = crate_dir.join(deb["systemd-units"]["unit-scripts"].as_str().unwrap());
    assert!(units.join("releasy.service").is_file());

    // The server takes the packaged settings as the unit gives them.
    let cwd = tempfile::tempdir().unwrap();
    let settings = crate_dir.join(settings_source);
    let output = run(
        &["--config", settings.to_str().unwrap(), "check-config"],
        &HashMap::new(),
        cwd.path(),
    );
    assert!(output.status.success(), "{output:?}");
    let report = String::from_utf8(output.stdout).unwrap();
    let data_dir = report
        .lines()
        .find_map(|line| line.strip_prefix("RELEASY_DATA_DIR"))
        .unwrap()
        .trim();
    assert_eq!(data_dir, format!("/var/lib/{}", service["StateDirectory"]));
    assert_eq!(service["WorkingDirectory"], data_dir);
}
