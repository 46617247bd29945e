//! `panah serve`.

use anyhow::Context;
use panah_server::AppState;
use tokio::net::TcpListener;

use crate::config::{open_store, HubConfig, ServeArgs};

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PANAH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let config = args.store.resolve(args.listen.as_deref())?;
    serve(config, args.allow_loose_permissions, |_| {}).await
}

/// Opens the store, binds, announces readiness on stdout, and serves until SIGINT or
/// SIGTERM. `on_ready` runs after the listener is bound (the demo prints its banner there).
pub async fn serve(
    config: HubConfig,
    allow_loose_permissions: bool,
    on_ready: impl FnOnce(&str),
) -> anyhow::Result<()> {
    crate::private::create_folder(&config.data)?;
    let store = open_store(&config).await?;
    let blobs = panah_store::BlobStore::open(&config.blobs, &config.data, &store).await?;
    crate::private::check(&config.data, &config.location, allow_loose_permissions)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let mut settings = config.settings.clone();
    settings.fallback_host = Some(format!("localhost:{}", addr.port()));
    let state = AppState::new(store.clone(), blobs, settings).await?;
    let sweeper = panah_server::retention::spawn(&state);
    let publisher = match &config.publish_to {
        Some(to) => {
            let publisher = panah_server::publish::Publisher::open(to)?;
            tracing::info!(
                to = publisher.describe(),
                "publishing the logs' static copy"
            );
            Some(panah_server::publish::spawn(&state, publisher))
        }
        None => None,
    };
    let url = format!("http://{addr}");
    on_ready(&url);
    // The readiness signal tests and scripts wait for: one line on stdout.
    println!("panah: listening on {url}");
    // Not the address: logs carry no addresses at all, the hub's own included.
    tracing::info!("hub ready");
    panah_server::serve(listener, state, shutdown_signal()).await?;
    sweeper.abort();
    if let Some(p) = publisher {
        p.abort();
    }
    store.close().await;
    tracing::info!("hub stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing requests in flight");
}
