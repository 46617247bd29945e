//! `panah desk`: the coordinators' desk, a web interface served by this binary on the
//! coordinator's own device, on 127.0.0.1 only. It holds the unlocked keyring in this
//! process's memory, decrypts and signs here, and talks to the hub's API like the other
//! commands; the hub never sends it code, and its pages need no JavaScript.
//!
//! A local web server is reachable from every page open in the same browser and from every
//! program on the machine, so each request passes `guard` first:
//! - the `Host` must be the desk's own address (a foreign name that resolves to 127.0.0.1,
//!   DNS rebinding, is refused);
//! - nothing is answered before the one-time address printed at start was opened; it works
//!   once, and sets the session's cookie (`HttpOnly`, `SameSite=Strict`);
//! - a request that changes anything must come from the desk's own pages: a matching
//!   `Origin` and the session's form token;
//! - every answer forbids framing, caching and loading anything from elsewhere.
//!
//! Lock forgets the keyring, the tracker's cache and the hub's session; after the idle
//! time it happens by itself.

mod books;
mod frame;
mod inbox;
mod team;
mod tracker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Args;
use panah_client::records::{self, Cache};
use panah_client::Session;
use panah_core::{Lang, Slug};
use panah_keyring::Keyring;
use rand::RngCore;

use crate::client::HubArgs;
use crate::tracker::Words;

pub(crate) use frame::Frame;

#[derive(Args, Debug)]
pub struct DeskArgs {
    #[command(flatten)]
    pub hub: HubArgs,
    /// The language of the pages: fa (Dari), ps (Pashto) or en [default: from LANG]; each
    /// page can switch.
    #[arg(long, env = "PANAH_LANG")]
    pub lang: Option<String>,
    /// Lock (forget the keyring) after this many minutes without a request.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u16).range(1..=720))]
    pub idle_minutes: u16,
    /// The port on 127.0.0.1 [default: a free one].
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the one-time address in the default browser (else it is only printed).
    #[arg(long)]
    pub open: bool,
    /// Ask for the passphrase here, in the terminal, instead of on the desk's first page.
    #[arg(long)]
    pub ask: bool,
}

/// The largest form the desk reads (a reply is at most 1 MiB of text; a CSV import
/// pasted into a form 8 MiB).
const MAX_FORM: usize = 9 * 1024 * 1024;

/// The hub's session is renewed before its 15 minutes run out.
const SESSION_FOR: Duration = Duration::from_secs(10 * 60);

/// The name of the desk's cookie.
const COOKIE: &str = "panah-desk";

/// What the desk holds while unlocked. Dropped on lock: the keyring and the decrypted
/// cache exist nowhere else.
pub(crate) struct Unlocked {
    pub keyring: Keyring,
    hub: tokio::sync::Mutex<Option<(Arc<Session>, Instant)>>,
    pub cache: tokio::sync::Mutex<Cache>,
    pub cache_path: PathBuf,
}

impl Unlocked {
    /// A logged-in session with the hub, renewed when it is about to expire.
    pub async fn hub(&self, desk: &Desk) -> anyhow::Result<Arc<Session>> {
        let mut held = self.hub.lock().await;
        if let Some((s, since)) = held.as_ref() {
            if since.elapsed() < SESSION_FOR {
                return Ok(s.clone());
            }
        }
        let session =
            Arc::new(Session::login(&desk.base, desk.collective.clone(), &self.keyring).await?);
        if let Some((old, _)) = held.replace((session.clone(), Instant::now())) {
            if let Ok(old) = Arc::try_unwrap(old) {
                tokio::spawn(old.logout());
            }
        }
        Ok(session)
    }

    /// Saves the cache (encrypted to this coordinator's own key).
    pub fn save(&self, cache: &Cache) -> anyhow::Result<()> {
        cache.save(&self.cache_path, &self.keyring)?;
        Ok(())
    }
}

/// The desk's state, shared by every request.
pub(crate) struct Desk {
    /// `127.0.0.1:PORT`: the only `Host` answered.
    host: String,
    /// `/d/RANDOM`: every page is below it, and the session's cookie is sent only there.
    /// Cookies are not kept apart by port: a cookie for `/` on 127.0.0.1 would go to every
    /// other web server on this machine too.
    pub root: String,
    /// Told when the desk locks, so that requests still running stop at once.
    locked: tokio::sync::watch::Sender<u64>,
    /// `http://127.0.0.1:PORT`: the only `Origin` a change may come from.
    origin: String,
    /// The one-time address's secret, until it is used.
    once: Mutex<Option<String>>,
    /// The session cookie's value, valid once the one-time address was used (`once` is
    /// then `None`).
    session: String,
    /// The form token every change carries.
    pub csrf: String,
    words: Words,
    lang: Mutex<Lang>,
    idle: Duration,
    last: Mutex<Instant>,
    pub base: String,
    pub collective: Slug,
    keyring_path: PathBuf,
    unlocked: Mutex<Option<Arc<Unlocked>>>,
    pub css: String,
    csp: HeaderValue,
    /// What the last change said (saved, sent, conflicts), for the page after it.
    pub said: Mutex<Vec<String>>,
    /// Team changes this device had not seen, in the words of the language they were
    /// found in, until the team page is looked at.
    pub news: Mutex<Vec<String>>,
    /// Receipt codes just made, shown once by the next books page.
    pub codes: Mutex<Vec<(String, String)>>,
    /// Told to stop the desk (after Panic).
    stop: tokio::sync::Notify,
    /// Files decrypted at once (each may be large: a page of photos must not hold them
    /// all in memory together).
    pub files: tokio::sync::Semaphore,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    panah_core::hex(&bytes)
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Desk {
    /// The address of a desk page: `path` below the root.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    pub fn words(&self) -> Words {
        self.words.in_lang(self.lang())
    }

    pub fn lang(&self) -> Lang {
        *self.lang.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_lang(&self, lang: Lang) {
        *self.lang.lock().unwrap_or_else(|e| e.into_inner()) = lang;
    }

    /// The keyring and what it opened, if the desk is unlocked.
    pub fn unlocked(&self) -> Option<Arc<Unlocked>> {
        self.unlocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the keyring, the cache and the hub's session. A request in flight keeps
    /// its own reference until it ends; no new one gets one.
    pub fn lock(&self) {
        let gone = self
            .unlocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.locked.send_modify(|n| *n += 1);
        if let Some(u) = gone {
            tokio::spawn(async move {
                let session = u.hub.lock().await.take();
                if let Some((mut s, _)) = session {
                    // Requests still running hold the session for a moment after they
                    // were stopped: wait for them, then log out.
                    for _ in 0..50 {
                        match Arc::try_unwrap(s) {
                            Ok(s) => {
                                s.logout().await;
                                return;
                            }
                            Err(still) => s = still,
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            });
        }
    }

    /// Unlocks with `passphrase` (scrypt, on the blocking pool), opening the tracker's
    /// cache too.
    async fn unlock(&self, passphrase: age::secrecy::SecretString) -> anyhow::Result<()> {
        let path = self.keyring_path.clone();
        let keyring = tokio::task::spawn_blocking(move || Keyring::load(&path, &passphrase))
            .await
            .context("unlocking stopped")??;
        self.unlock_with(keyring)
    }

    fn unlock_with(&self, keyring: Keyring) -> anyhow::Result<()> {
        let cache_path = records::cache_path(
            &records::cache_dir()?,
            &self.base,
            self.collective.as_str(),
            &keyring.public().fingerprint().to_string(),
        );
        let cache = Cache::load(&cache_path, &keyring)?;
        *self.unlocked.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(Unlocked {
            keyring,
            hub: tokio::sync::Mutex::new(None),
            cache: tokio::sync::Mutex::new(cache),
            cache_path,
        }));
        self.touch();
        Ok(())
    }

    /// The team as its signed log shows it, verified here; what changed since this device
    /// last looked is kept for the team page (whichever page found it).
    pub async fn team(
        &self,
        session: &Session,
        keyring: &Keyring,
    ) -> anyhow::Result<panah_client::team::VerifiedTeam> {
        let (team, _) = crate::team::verified_or_founded(session, keyring).await?;
        let lines = crate::team::news_lines(&team, &self.words());
        if !lines.is_empty() {
            self.news
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(lines);
        }
        Ok(team)
    }

    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Locks if nothing happened for the idle time.
    fn lock_if_idle(&self) -> bool {
        let idle = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            >= self.idle;
        if idle && self.unlocked().is_some() {
            self.lock();
            return true;
        }
        false
    }
}

pub async fn run(args: DeskArgs) -> anyhow::Result<()> {
    let words = Words::new(args.lang.as_deref())?;
    let (base, collective, keyring_args) = args.hub.resolve()?;
    let keyring_path = keyring_args.path()?;
    if !keyring_path.exists() {
        anyhow::bail!(
            "there is no keyring at {}; create one with `panah id new` or pass --keyring FILE",
            keyring_path.display()
        );
    }
    if panah_client::hub::is_exposed(&base) {
        eprintln!("{}", words.f("desk-plain-http", &[("hub", &base)]));
    }
    let keyring = if args.ask || std::env::var_os("PANAH_PASSPHRASE").is_some() {
        Some(keyring_args.unlock()?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .context("cannot listen on 127.0.0.1")?;
    let addr: SocketAddr = listener.local_addr()?;
    let once = random_hex();
    let css = format!("{}{}", panah_server::STYLESHEET, DESK_CSS);
    let root = format!("/d/{}", &random_hex()[..32]);
    let desk = Arc::new(Desk {
        root: root.clone(),
        locked: tokio::sync::watch::channel(0).0,
        host: format!("127.0.0.1:{}", addr.port()),
        origin: format!("http://127.0.0.1:{}", addr.port()),
        once: Mutex::new(Some(once.clone())),
        session: random_hex(),
        csrf: random_hex(),
        lang: Mutex::new(words.lang),
        words,
        idle: idle_time(args.idle_minutes),
        last: Mutex::new(Instant::now()),
        base,
        collective,
        keyring_path,
        unlocked: Mutex::new(None),
        csp: csp(&css),
        css,
        said: Mutex::new(Vec::new()),
        news: Mutex::new(Vec::new()),
        codes: Mutex::new(Vec::new()),
        stop: tokio::sync::Notify::new(),
        files: tokio::sync::Semaphore::new(2),
    });
    if let Some(k) = keyring {
        desk.unlock_with(k)?;
    }
    let address = format!("http://{}{root}/open/{once}", desk.host);
    println!(
        "{}",
        desk.words().f("desk-started", &[("address", &address)])
    );
    if args.open {
        open_browser(&address);
    }
    let watch = desk.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(
            watch
                .idle
                .clamp(Duration::from_secs(1), Duration::from_secs(5)),
        );
        loop {
            tick.tick().await;
            watch.lock_if_idle();
        }
    });
    let app = router(desk.clone());
    let stopping = desk.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = stopping.stop.notified() => {}
            }
        })
        .await
        .context("the desk stopped")?;
    desk.lock();
    if args.open {
        let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) => PathBuf::from(d),
            None => std::env::temp_dir(),
        }
        .join(format!("panah-desk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
    println!("{}", desk.words().t("desk-stopped"));
    Ok(())
}

/// The idle time before the desk locks itself. Only a debug build (the test suite's) reads
/// `PANAH_DESK_IDLE_SECONDS`, so that a test need not wait minutes.
fn idle_time(minutes: u16) -> Duration {
    if cfg!(debug_assertions) {
        if let Some(s) = std::env::var("PANAH_DESK_IDLE_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            return Duration::from_secs(s);
        }
    }
    Duration::from_secs(u64::from(minutes) * 60)
}

/// Hands the address to the system's opener through a file only this user can read: on
/// the opener's command line, other users of the machine could read it in `ps`. The file
/// goes when the desk stops.
fn open_browser(address: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir(),
    }
    .join(format!("panah-desk-{}", std::process::id()));
    if panah_client::files::create_private_dir(&dir).is_err() {
        return;
    }
    let page = dir.join("open.html");
    let html = format!(
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url={address}\"><a href=\"{address}\">Panah desk</a>"
    );
    if panah_client::files::write_private(&page, html.as_bytes()).is_err() {
        return;
    }
    let _ = std::process::Command::new(opener)
        .arg(&page)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// The desk's own additions to the public pages' stylesheet.
const DESK_CSS: &str = include_str!("desk.css");

fn csp(css: &str) -> HeaderValue {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

pub(crate) fn router(desk: Arc<Desk>) -> Router {
    let pages = Router::new()
        .route("/", get(home))
        .route("/unlock", get(unlock_page).post(unlock))
        .route("/lock", post(lock))
        .route("/panic", get(panic_page).post(panic))
        .merge(inbox::routes())
        .merge(books::routes())
        .merge(tracker::routes())
        .merge(team::routes());
    Router::new()
        .nest(&desk.root, pages)
        .fallback(not_found)
        // The guard reads a form whole (at most MAX_FORM); the extractors after it may too.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::middleware::from_fn_with_state(desk.clone(), guard))
        .with_state(desk)
}

/// Every answer: nothing framed, cached, sniffed or loaded from elsewhere.
fn harden(res: &mut Response, csp: &HeaderValue) {
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it a browser sends `Origin: null` with the desk's own forms,
    // which could then not be told from a sandboxed page's. Nothing on the desk links
    // elsewhere, and `same-origin` sends nothing to another site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// Why `guard` refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Host,
    NotOpened,
    OnceUsed,
    Origin,
    Token,
    NotAForm,
    TooLarge,
}

impl Refused {
    fn status(self) -> StatusCode {
        match self {
            Refused::Host => StatusCode::MISDIRECTED_REQUEST,
            Refused::NotAForm => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refused::Host => "desk-refused-host",
            Refused::NotOpened => "desk-refused-not-opened",
            Refused::OnceUsed => "desk-refused-once-used",
            Refused::Origin => "desk-refused-origin",
            Refused::Token => "desk-refused-token",
            Refused::NotAForm => "desk-refused-not-a-form",
            Refused::TooLarge => "desk-refused-too-large",
        }
    }
}

/// Every value the request's cookies give the desk's name (another server on this
/// machine may have set one too).
fn cookie_values(req: &Request) -> impl Iterator<Item = &str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// The value of `name` in a URL-encoded form.
pub(crate) fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn guard(State(desk): State<Arc<Desk>>, req: Request, next: Next) -> Response {
    let mut res = match check(&desk, req).await {
        Ok(req) => {
            if let Some(lang) = req
                .uri()
                .query()
                .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "lang"))
                .and_then(|(_, v)| Lang::from_code(&v).ok())
            {
                desk.set_lang(lang);
            }
            // A lock stops whatever is still running: its hub requests are dropped, and
            // nothing it decrypted reaches the browser after the lock.
            let mut locked = desk.locked.subscribe();
            locked.borrow_and_update();
            tokio::select! {
                res = next.run(req) => res,
                _ = locked.changed() => Locked(desk.at("/unlock")).into_response(),
            }
        }
        Err(Ok(res)) => res,
        Err(Err(why)) => {
            let w = desk.words();
            Frame::bare(&desk, &w).message(why.status(), &w.t(why.message()))
        }
    };
    harden(&mut res, &desk.csp);
    res
}

/// Lets a request through (with its body read, for a form) or says why not.
async fn check(desk: &Desk, req: Request) -> Result<Request, Result<Response, Refused>> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if host != desk.host {
        // Not even a translated page: whoever asked by another name is not the desk's user.
        return Err(Ok((
            Refused::Host.status(),
            "This is a Panah desk; it answers only at its own address.\n",
        )
            .into_response()));
    }
    let Some(rest) = req.uri().path().strip_prefix(desk.root.as_str()) else {
        return Err(Err(Refused::NotOpened));
    };
    let session_ok = desk
        .once
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_none()
        && cookie_values(&req).any(|c| same(c, &desk.session));
    if let Some(token) = rest.strip_prefix("/open/") {
        if req.method() != Method::GET {
            return Err(Err(Refused::Origin));
        }
        let mut once = desk.once.lock().unwrap_or_else(|e| e.into_inner());
        let first = matches!(once.as_deref(), Some(secret) if same(secret, token));
        if !first && !session_ok {
            return Err(Err(if once.is_none() {
                Refused::OnceUsed
            } else {
                Refused::NotOpened
            }));
        }
        // The first use sets the session; the same browser opening it again just goes on.
        *once = None;
        desk.touch();
        // A page, not a redirect: a browser opened from another program or file does not
        // send a `SameSite=Strict` cookie along a redirect it did not start itself; the
        // desk's own page moving on does.
        let w = desk.words();
        let mut res = Frame::bare(desk, &w).opening(&desk.at("/unlock"));
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path={}; HttpOnly; SameSite=Strict",
            desk.session, desk.root
        )) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        return Err(Ok(res));
    }
    if !session_ok {
        return Err(Err(Refused::NotOpened));
    }
    // Another site's page may not even look: a link or an image from elsewhere is
    // refused, whatever cookie comes with it (browsers say where a request came from).
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err(Err(Refused::Origin));
    }
    desk.lock_if_idle();
    desk.touch();
    // A form sent to a locked desk (it locked itself while the person typed): nothing is
    // done, and the unlock page says so.
    let page = rest.split('?').next().unwrap_or_default();
    if req.method() == Method::POST
        && desk.unlocked().is_none()
        && !["/unlock", "/lock", "/panic"].contains(&page)
    {
        let w = desk.words();
        return Err(Ok(show_unlock(
            desk,
            StatusCode::CONFLICT,
            Some(w.t("desk-locked-not-done")),
        )));
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return Ok(req);
    }
    let origin_ok = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o == desk.origin);
    if !origin_ok {
        return Err(Err(Refused::Origin));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim() == "application/x-www-form-urlencoded");
    if !is_form {
        return Err(Err(Refused::NotAForm));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| Err(Refused::TooLarge))?;
    match form_value(&bytes, "csrf") {
        Some(t) if same(&t, &desk.csrf) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(Err(Refused::Token)),
    }
}

async fn not_found(State(desk): State<Arc<Desk>>) -> Response {
    let w = desk.words();
    Frame::new(&desk, &w, None, "").message(StatusCode::NOT_FOUND, &w.t("desk-not-found"))
}

async fn home(State(desk): State<Arc<Desk>>) -> Redirect {
    if desk.unlocked().is_some() {
        Redirect::to(&desk.at("/inbox"))
    } else {
        Redirect::to(&desk.at("/unlock"))
    }
}

#[derive(askama::Template)]
#[template(path = "desk/unlock.html")]
struct UnlockPage<'a> {
    f: Frame<'a>,
    error: Option<String>,
    keyring: String,
}

async fn unlock_page(State(desk): State<Arc<Desk>>) -> Response {
    if desk.unlocked().is_some() {
        return Redirect::to(&desk.at("/inbox")).into_response();
    }
    show_unlock(&desk, StatusCode::OK, None)
}

fn show_unlock(desk: &Desk, status: StatusCode, error: Option<String>) -> Response {
    let w = desk.words();
    let f = Frame::new(desk, &w, None, "/unlock");
    let keyring = panah_client::terminal::sanitize_line(&desk.keyring_path.display().to_string());
    f.render(
        status,
        UnlockPage {
            f: f.clone(),
            error,
            keyring,
        },
    )
}

#[derive(serde::Deserialize)]
struct UnlockForm {
    passphrase: String,
}

async fn unlock(State(desk): State<Arc<Desk>>, form: axum::Form<UnlockForm>) -> Response {
    let passphrase = age::secrecy::SecretString::from(form.0.passphrase);
    match desk.unlock(passphrase).await {
        Ok(()) => Redirect::to(&desk.at("/inbox")).into_response(),
        Err(e) => {
            let w = desk.words();
            let wrong = e.chain().any(|c| {
                matches!(
                    c.downcast_ref(),
                    Some(panah_keyring::KeyringError::WrongPassphrase)
                )
            });
            let message = if wrong {
                w.t("cli-error-passphrase")
            } else {
                crate::error_text(&e, &w)
            };
            show_unlock(&desk, StatusCode::UNPROCESSABLE_ENTITY, Some(message))
        }
    }
}

async fn lock(State(desk): State<Arc<Desk>>) -> Response {
    desk.lock();
    Redirect::to(&desk.at("/unlock")).into_response()
}

#[derive(askama::Template)]
#[template(path = "desk/panic.html")]
struct PanicPage<'a> {
    f: Frame<'a>,
    done: Option<crate::panic::Erased>,
    lines: Vec<String>,
}

async fn panic_page(State(desk): State<Arc<Desk>>) -> Response {
    let w = desk.words();
    let f = Frame::new(&desk, &w, None, "/panic");
    f.render(
        StatusCode::OK,
        PanicPage {
            f: f.clone(),
            done: None,
            lines: Vec::new(),
        },
    )
}

/// Panic from the desk: the same erasure as `panah panic`, after its one confirmation
/// (the button on the page); the keyring in memory is forgotten first.
async fn panic(State(desk): State<Arc<Desk>>) -> Response {
    desk.lock();
    let keyring = crate::id::KeyringArgs {
        keyring: Some(desk.keyring_path.clone()),
    };
    let erased = tokio::task::spawn_blocking(move || crate::panic::erase(&keyring)).await;
    // Nothing is left to unlock: the desk stops once this page is sent.
    let stopping = desk.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopping.stop.notify_one();
    });
    let w = desk.words();
    let f = Frame::new(&desk, &w, None, "/panic");
    match erased {
        Ok(erased) => {
            let mut lines = crate::panic::report(&erased, &w);
            if !erased.failed.is_empty() {
                lines.push(w.t("cli-panic-incomplete"));
            }
            let status = if erased.failed.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            f.render(
                status,
                PanicPage {
                    f: f.clone(),
                    done: Some(erased),
                    lines,
                },
            )
        }
        Err(_) => f.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            &w.t("cli-panic-incomplete"),
        ),
    }
}

/// A message's text as paragraphs, made safe to show (control and direction characters
/// made visible).
pub(crate) fn paragraphs(text: &str) -> Vec<String> {
    panah_client::terminal::sanitize(&text.replace("\r\n", "\n"))
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The desk is locked: the answer sends the person to unlock it first (the desk's unlock
/// page's address).
#[derive(Debug, Clone)]
pub(crate) struct Locked(String);

impl IntoResponse for Locked {
    fn into_response(self) -> Response {
        Redirect::to(&self.0).into_response()
    }
}

/// The unlocked desk, or [`Locked`].
pub(crate) fn need_unlocked(desk: &Desk) -> Result<Arc<Unlocked>, Locked> {
    desk.unlocked().ok_or_else(|| Locked(desk.at("/unlock")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_and_cookies() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        let req = Request::builder()
            .header(header::COOKIE, "x=1; panah-desk=secret; y=2")
            .body(Body::empty())
            .unwrap_or_default();
        assert_eq!(cookie_values(&req).collect::<Vec<_>>(), vec!["secret"]);
        assert_eq!(
            form_value(b"a=1&csrf=t%2B1", "csrf").as_deref(),
            Some("t+1")
        );
    }
}
