//! The browser the dashboard tests drive: Debian's headless Chromium through chromedriver
//! (WebDriver, with `fantoccini`), with every host but loopback unresolvable and a dead proxy
//! for everything else; one at a time ([`ONE_BROWSER`]); screenshots at [`WIDTHS`] under
//! `target/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// One browser at a time: two cores do not run several Chromiums well.
pub(crate) static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The two widths every page is looked at.
pub(crate) const WIDTHS: [u32; 2] = [1400, 400];

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.is_file().then_some(path)
}

/// Chromium and chromedriver; when missing, a failure saying how to install them, or `None`
/// after a `skipped:` line when a skip was asked for (`scheduler_test_support::missing`).
pub(crate) fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium");
    let driver = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ => scheduler_test_support::missing(
            "chromium/chromedriver",
            "not found at /usr/bin or $CHROMIUM/$CHROMEDRIVER",
            "apt-get install chromium chromium-driver (or set CHROMIUM and CHROMEDRIVER)",
        ),
    }
}

/// A chromedriver process and the browser session it drives; both end on drop.
pub(crate) struct Browser {
    /// The WebDriver session.
    pub(crate) client: Client,
    driver: Child,
    _profile: TempDir,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    pub(crate) async fn start(chromium: &Path, driver: &Path) -> Self {
        let port = free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!(
            "scheduler-ui-chromium-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.display()),
            "--window-size=1400,1000".into(),
            // Nothing but loopback resolves, and anything not loopback goes to a dead proxy.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
            "--proxy-server=http://127.0.0.1:9".into(),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("no WebDriver session: {error}"),
            }
        };
        Self {
            client,
            driver,
            _profile: TempDir(profile),
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub(crate) async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Waits up to `seconds` for `check` to hold.
    pub(crate) async fn wait_for(&self, what: &str, seconds: u64, check: impl AsyncCheck) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !check.holds(self).await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn script(&self, source: &str) -> Value {
        self.client.execute(source, vec![]).await.unwrap()
    }

    /// Saves the whole page at both widths as `<name>-<width>.png`.
    pub(crate) async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        for width in WIDTHS {
            // The window's size is not the page's: resize until the viewport holds the page.
            let mut height = 1000_i64;
            for _ in 0..3 {
                self.client
                    .set_window_size(width, u32::try_from(height).unwrap())
                    .await
                    .unwrap();
                let sizes = self
                    .script(
                        "return [Math.max(document.body.scrollHeight, \
                         document.documentElement.scrollHeight), window.innerHeight]",
                    )
                    .await;
                let (page, viewport) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
                if page == viewport {
                    break;
                }
                height = (height + page - viewport).clamp(400, 5000);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{width}.png")), png).unwrap();
            // Nothing may stick out sideways at this width.
            let overflow = self
                .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                .await
                .as_i64()
                .unwrap();
            assert!(
                overflow <= 0,
                "{name} scrolls sideways by {overflow} px at {width} px"
            );
        }
        self.client.set_window_size(1400, 1000).await.unwrap();
    }
}

/// A condition [`Browser::wait_for`] polls.
pub(crate) trait AsyncCheck {
    async fn holds(&self, browser: &Browser) -> bool;
}

/// An element matching the selector exists.
pub(crate) struct Present<'a>(pub(crate) &'a str);

impl AsyncCheck for Present<'_> {
    async fn holds(&self, browser: &Browser) -> bool {
        browser.exists(self.0).await
    }
}

/// `target/ui-screenshots/` of this workspace.
pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// How many elements match `css`.
    pub(crate) async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// The sum of the `data-count` of the elements matching `css`.
    pub(crate) async fn data_count(&self, css: &str) -> i64 {
        self.script(&format!(
            "return Array.from(document.querySelectorAll('{css}'))\
             .reduce((sum, e) => sum + Number(e.dataset.count), 0)"
        ))
        .await
        .as_i64()
        .unwrap()
    }

    /// The computed `fill` of the first element matching `css`.
    pub(crate) async fn fill_of(&self, css: &str) -> String {
        self.script(&format!(
            "return getComputedStyle(document.querySelector('{css}')).fill"
        ))
        .await
        .as_str()
        .unwrap()
        .to_string()
    }
}
