//! `pedigree-plant`: runs the plant adapter from a `plant.toml`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use pedigree_plant::adapter::inbound_channel;
use pedigree_plant::config::PlantConfig;
use pedigree_plant::http::HttpSubmitter;
use pedigree_plant::mqtt::{MqttSettings, run_mqtt_source};
use pedigree_plant::simulator::{Simulator, run_simulator};
use pedigree_plant::tcp::run_tcp_source;
use pedigree_plant::{
    Adapter, Counters, FileSubmitter, Spool, StopReason, Submitter, render_prometheus,
};
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(
    name = "pedigree-plant",
    about = "Plant adapter: packaging-line events to EPCIS, spooled and submitted"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the adapter until Ctrl-C (or until every simulated line has
    /// reached its `units_max` and the spool has drained).
    Run {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Write each batch as an EPCIS JSON-LD document to the output
        /// directory instead of submitting to the node of `[node]`.
        #[arg(long)]
        dry_run: bool,
        /// Output directory for --dry-run (overrides `[output] dir`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Checks a configuration file and prints the lines it defines.
    CheckConfig {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => {
            let config = PlantConfig::load(&config)?;
            for context in config.line_contexts()? {
                println!(
                    "line {}: readPoint {} bizLocation {}",
                    context.line, context.read_point, context.biz_location
                );
            }
            Ok(())
        }
        Command::Run {
            config,
            dry_run,
            out,
        } => {
            let config = PlantConfig::load(&config)?;
            let sink = match (dry_run, out, &config.output, &config.node) {
                (false, _, _, Some(node)) => {
                    let token = std::fs::read_to_string(&node.token_file).with_context(|| {
                        format!("node token file {}", node.token_file.display())
                    })?;
                    let client = pedigree_client::Client::new(&node.url, Some(token.trim()))
                        .context("[node] url")?;
                    Sink::Node(Box::new(HttpSubmitter::new(client, None)))
                }
                (false, _, _, None) => bail!(
                    "no [node] section: configure the node's url and token_file, \
                     or run with --dry-run to write EPCIS JSON-LD documents to a directory"
                ),
                (true, Some(dir), _, _) => Sink::Directory(dir),
                (true, None, Some(output), _) => Sink::Directory(output.dir.clone()),
                (true, None, None, _) => bail!("--dry-run needs --out DIR or an [output] section"),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            match sink {
                Sink::Directory(output) => {
                    let submitter =
                        FileSubmitter::open(&output).context("opening the output directory")?;
                    tracing::info!(dir = %output.display(), already_written = submitter.written_events(), "dry run: writing EPCIS documents");
                    runtime.block_on(run(config, submitter))
                }
                Sink::Node(submitter) => {
                    tracing::info!(node = submitter.node_url(), "submitting to the node");
                    runtime.block_on(run(config, *submitter))
                }
            }
        }
    }
}

/// Where the adapter's batches go.
enum Sink {
    /// `--dry-run`: JSON-LD documents in a directory.
    Directory(PathBuf),
    /// The node named in `[node]`.
    Node(Box<HttpSubmitter>),
}

async fn run<S: Submitter + 'static>(config: PlantConfig, submitter: S) -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let spool =
        Spool::open(&config.spool.dir, config.spool_limits()).context("opening the spool")?;
    let recovery = spool.recovery();
    tracing::info!(
        live = recovery.live_events,
        truncated_bytes = recovery.truncated_bytes,
        "spool opened"
    );
    let (shutdown_sender, shutdown) = watch::channel(false);
    let (inbound_sender, inbound_receiver) = inbound_channel();
    let mut tasks = tokio::task::JoinSet::new();

    if let Some(mqtt) = &config.mqtt {
        let password = match &mqtt.password_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("{}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let settings = MqttSettings {
            host: mqtt.host.clone(),
            port: mqtt.port,
            client_id: mqtt
                .client_id
                .clone()
                .unwrap_or_else(|| format!("pedigree-plant-{}", config.site.id)),
            site: config.site.id.clone(),
            keep_alive: Duration::from_secs(mqtt.keep_alive_s.max(5)),
            credentials: mqtt
                .username
                .clone()
                .map(|u| (u, password.unwrap_or_default())),
        };
        tasks.spawn(run_mqtt_source(
            settings,
            inbound_sender.clone(),
            counters.clone(),
            shutdown.clone(),
        ));
    }
    for line in &config.lines {
        if let Some(address) = &line.tcp_listen {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("line {}: binding {address}", line.id))?;
            tracing::info!(line = %line.id, %address, "camera TCP listening");
            tasks.spawn(run_tcp_source(
                listener,
                line.id.clone(),
                inbound_sender.clone(),
                counters.clone(),
                shutdown.clone(),
            ));
        }
        if let Some(simulator_config) = &line.simulator {
            let settings =
                config.simulator_settings(line, pedigree_plant::time::now_unix_millis())?;
            let simulator = Simulator::new(settings, &config.spool.dir.join("serials"))?;
            let (paced, units_max) = (simulator_config.paced, simulator_config.units_max);
            let sender = inbound_sender.clone();
            let shutdown = shutdown.clone();
            tracing::info!(line = %line.id, units_per_minute = simulator_config.units_per_minute, "simulator running");
            tasks.spawn(async move {
                if let Err(error) =
                    run_simulator(simulator, sender, paced, units_max, shutdown).await
                {
                    tracing::error!(%error, "simulator stopped");
                }
            });
        }
    }
    drop(inbound_sender);

    if let Some(metrics) = config.metrics.clone() {
        let counters = counters.clone();
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move {
            let mut ticker =
                tokio::time::interval(Duration::from_millis(metrics.interval_ms.max(100)));
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = ticker.tick() => {}
                }
                write_metrics(&metrics.file, &counters);
            }
        });
    }

    let adapter = Adapter::new(
        config.line_contexts()?,
        config.adapter_settings(),
        spool,
        submitter,
        counters.clone(),
    );
    let core = tokio::spawn(adapter.run(inbound_receiver, shutdown.clone()));
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down");
            let _ = shutdown_sender.send(true);
        }
    });
    let stopped = core.await.context("adapter task")??;
    tasks.shutdown().await;
    if let Some(metrics) = &config.metrics {
        write_metrics(&metrics.file, &counters);
    }
    let snapshot = counters.snapshot();
    tracing::info!(
        reason = ?stopped,
        received = snapshot.received,
        spooled = snapshot.spooled,
        accepted = snapshot.accepted,
        duplicate = snapshot.duplicate,
        rejected = snapshot.rejected,
        live = snapshot.spool_live_events,
        "adapter stopped"
    );
    if stopped == StopReason::Shutdown && snapshot.spool_live_events > 0 {
        tracing::info!("events left in the spool are submitted on the next run");
    }
    Ok(())
}

/// Replaces the metrics text file atomically (node_exporter textfile
/// collector convention: write a temporary file, then rename).
fn write_metrics(file: &std::path::Path, counters: &Counters) {
    let text = render_prometheus(&counters.snapshot());
    let mut temporary = file.as_os_str().to_owned();
    temporary.push(".tmp");
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, file));
    if let Err(error) = written {
        tracing::warn!(%error, file = %file.display(), "metrics file not written");
    }
}
