//! Starts the real server in-process on a random port, exactly as the server's own tests do
//! (`Application::build` with the test configuration), and runs the real `schedulerctl`
//! binary against it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use scheduler_server::{Application, Config};
use scheduler_test_support::{TestPostgres, TestSqlite};
use serde_json::Value;
use tokio::sync::oneshot;

/// A running server and what keeps its database alive.
pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// Keeps the PostgreSQL database until the test ends.
    _postgres: Option<TestPostgres>,
    /// Keeps the SQLite file until the test ends.
    _sqlite: Option<TestSqlite>,
    /// Stops the server when dropped.
    _stop: oneshot::Sender<()>,
}

/// The server tests' configuration: port 0, no dispatcher loop (manual runs still execute),
/// loopback targets allowed, no DNS.
fn test_config(database_url: &str) -> Config {
    let mut config = Config::for_database(database_url, "127.0.0.1:0".parse().expect("addr"));
    config.dispatcher = "off".into();
    config.target_allow = "127.0.0.1".into();
    config.target_resolve = false;
    config
}

/// Starts a server with `config`.
async fn start(config: Config) -> (String, oneshot::Sender<()>) {
    let app = Application::build(&config).await.expect("server builds");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (base, stop)
}

/// A server on a fresh SQLite file.
pub(crate) async fn sqlite_server() -> Option<Server> {
    Some(sqlite_server_with(|_| {}).await)
}

/// A server on a fresh SQLite file, with the configuration changed by `configure`.
pub(crate) async fn sqlite_server_with(configure: impl FnOnce(&mut Config)) -> Server {
    let file = TestSqlite::new();
    let mut config = test_config(&file.url);
    configure(&mut config);
    let (base, stop) = start(config).await;
    Server {
        base,
        _postgres: None,
        _sqlite: Some(file),
        _stop: stop,
    }
}

/// A server on a fresh PostgreSQL database; `None` (the test prints why and passes) only
/// when none can be had and `SCHEDULER_TEST_SKIP_SERVICES=1` asked to skip.
pub(crate) async fn postgres_server() -> Option<Server> {
    let pg = scheduler_test_support::postgres().await?;
    // The default acquire timeout (3 s), not the 1 s of the server's own tests: on a loaded
    // machine the first connections of a fresh database have been seen to take longer.
    let (base, stop) = start(test_config(&pg.url)).await;
    Some(Server {
        base,
        _postgres: Some(pg),
        _sqlite: None,
        _stop: stop,
    })
}

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Its exit code.
    pub(crate) code: i32,
    /// Its standard output.
    pub(crate) stdout: String,
    /// Its standard error.
    pub(crate) stderr: String,
}

impl Outcome {
    /// Asserts success and returns standard output.
    #[track_caller]
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:#?}");
        &self.stdout
    }

    /// Asserts success and returns standard output as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }

    /// Asserts exit code `code` with nothing on standard output; returns standard error.
    #[track_caller]
    pub(crate) fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        &self.stderr
    }
}

/// The binary with a clean environment: no proxy, no SCHEDULER_* from the caller.
pub(crate) fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_schedulerctl"));
    for var in [
        "SCHEDULER_URL",
        "SCHEDULER_KEY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    command
}

/// Runs `command` to its end without blocking the runtime the server runs on.
pub(crate) async fn output(mut command: Command) -> Outcome {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the thread")
        .expect("the binary starts");
    Outcome {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// `schedulerctl` aimed at one server with one key (or none).
#[derive(Clone)]
pub(crate) struct Ctl {
    /// `SCHEDULER_URL`.
    url: String,
    /// `SCHEDULER_KEY`.
    key: Option<String>,
}

impl Server {
    /// The client without a key.
    pub(crate) fn ctl(&self) -> Ctl {
        Ctl {
            url: self.base.clone(),
            key: None,
        }
    }
}

impl Ctl {
    /// The same client with `key`.
    pub(crate) fn with_key(&self, key: &str) -> Ctl {
        Ctl {
            url: self.url.clone(),
            key: Some(key.to_string()),
        }
    }

    /// The command for `args`, aimed through the environment.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = command();
        command.args(args).env("SCHEDULER_URL", &self.url);
        if let Some(key) = &self.key {
            command.env("SCHEDULER_KEY", key);
        }
        command
    }

    /// Runs `args` to their end.
    pub(crate) async fn run(&self, args: &[&str]) -> Outcome {
        output(self.command(args)).await
    }

    /// Runs `args` with `input` on standard input.
    pub(crate) async fn run_with_input(&self, args: &[&str], input: &str) -> Outcome {
        let mut command = self.command(args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = input.to_string();
        let output = tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut child = command.spawn()?;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .await
        .expect("the thread")
        .expect("the binary runs");
        Outcome {
            code: output.status.code().expect("exited"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8"),
        }
    }

    /// Runs `args --output json` and returns the JSON printed.
    pub(crate) async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--output", "json"]);
        self.run(&args).await.json()
    }

    /// Starts `args` (a `runs tail`) and waits until it says it is following, so that what
    /// the test does next happens after its first poll.
    pub(crate) async fn start_following(&self, args: &[&str]) -> Following {
        let mut command = self.command(args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (stderr, seen) = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stderr);
            let mut seen = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).expect("stderr") == 0 {
                    break;
                }
                seen.push_str(&line);
                if line.starts_with("following runs") {
                    break;
                }
            }
            (reader, seen)
        })
        .await
        .expect("the thread");
        assert!(
            seen.contains("following runs"),
            "tail did not start: {seen}"
        );
        Following { child, stderr }
    }
}

/// A `runs tail` in progress.
pub(crate) struct Following {
    /// The process.
    child: Child,
    /// The rest of its standard error.
    stderr: BufReader<std::process::ChildStderr>,
}

impl Following {
    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub(crate) fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the tail to end by itself (it is bounded by `--for`).
    pub(crate) async fn finish(self) -> Outcome {
        let Following { child, mut stderr } = self;
        tokio::task::spawn_blocking(move || {
            use std::io::Read as _;
            let mut rest = String::new();
            stderr.read_to_string(&mut rest).expect("stderr");
            let output = child.wait_with_output().expect("the tail ends");
            Outcome {
                code: output.status.code().expect("exited"),
                stdout: String::from_utf8(output.stdout).expect("UTF-8"),
                stderr: rest,
            }
        })
        .await
        .expect("the thread")
    }
}

/// Creates an admin key through the CLI itself: in the default `auto` mode the server
/// serves loopback without a key until the first one exists.
pub(crate) async fn first_admin_key(server: &Server) -> String {
    let created = server
        .ctl()
        .run(&["keys", "create", "--name", "ops", "--scope", "admin"])
        .await;
    let key = created.ok().trim().to_string();
    assert!(key.starts_with("sk_"), "{created:#?}");
    key
}

/// A directory of this test's own in the system temp directory, removed when dropped.
pub(crate) struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new, empty directory; `name` keeps tests running side by side apart.
    pub(crate) fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "schedulerctl-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `text` to the file `name` in the directory; returns its path as text.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
