//! A headless Chromium driven through chromedriver (WebDriver over HTTP), for tests that
//! look at pages as a person would.

#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::tool;

pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    pub session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// A headless Chromium the size of a small phone (360 px).
    pub async fn start(profile: &std::path::Path) -> Option<Driver> {
        Self::start_sized(profile, true).await
    }

    /// A headless Chromium as a phone or, with `phone` false, a laptop (1280 px); see
    /// [`Driver::phone`] to switch later.
    pub async fn start_sized(profile: &std::path::Path, phone: bool) -> Option<Driver> {
        let chromedriver = tool("chromedriver")?;
        let http = reqwest::Client::new();
        // A port picked free may be taken before chromedriver binds it: then chromedriver
        // exits, and another port is tried.
        let mut started = None;
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let mut child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver");
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(res) = http.get(format!("{base}/status")).send().await {
                    if res.status().is_success() {
                        started = Some((child, base));
                        break;
                    }
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // it could not bind: try another port
                }
                assert!(Instant::now() < deadline, "chromedriver did not start");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if started.is_some() {
                break;
            }
        }
        let (child, base) = started.expect("chromedriver did not start on any of 5 ports");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                // A 360 px phone screen (a headless window cannot be narrower than 500 px).
                "mobileEmulation": if phone {
                    json!({"deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 1.0}})
                } else {
                    json!({"deviceMetrics": {"width": 1280, "height": 900, "pixelRatio": 1.0}})
                },
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=360,740",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut driver = Driver {
            child,
            base,
            http,
            session: String::new(),
        };
        let res = driver.call("POST", "/session", Some(caps)).await;
        driver.session = res["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Some(driver)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "POST" => self.http.post(url).json(&body.unwrap_or(json!({}))),
            "DELETE" => self.http.delete(url),
            _ => self.http.get(url),
        };
        let res: Value = req
            .send()
            .await
            .expect("chromedriver")
            .json()
            .await
            .expect("JSON");
        res["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.call(
            "POST",
            &format!("/session/{}/url", self.session),
            Some(json!({"url": url})),
        )
        .await;
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &format!("/session/{}/execute/sync", self.session),
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The page's width from now on: a 360 px phone or a 1280 px laptop.
    pub async fn phone(&self, phone: bool) {
        let (width, height) = if phone { (360, 740) } else { (1280, 900) };
        self.call(
            "POST",
            &format!("/session/{}/goog/cdp/execute", self.session),
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone}}),
            ),
        )
        .await;
    }

    /// Ends the browser session.
    pub async fn quit(&self) {
        self.call("DELETE", &format!("/session/{}", self.session), None)
            .await;
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self
            .call(
                "GET",
                &format!("/session/{}/screenshot", self.session),
                None,
            )
            .await;
        use base64::Engine;
        if let Some(b64) = png.as_str() {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                dir.join(name),
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap_or_default(),
            );
        }
    }
}
