//! Local-stack helper used by scripts/local-stack.sh and scripts/demo.sh:
//! - `provision`: create the table, queues and bucket in moto as template.yaml declares them;
//! - `poll`: play Lambda's SQS event source mapping against xero-sync under `cargo lambda watch`;
//! - `replay`: send the sample deliveries in events/ to webhook-ingest, signed as WooCommerce signs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use clap::{Parser, Subcommand};
use wooxero_tests::poller::{BatchSettings, HttpInvoker, Poller};
use wooxero_tests::provision::{env_vars, provision, ProvisionOptions};
use wooxero_tests::{env, template, woo_delivery};

#[derive(Parser)]
#[command(name = "wooxero-local", about = "wooxero local stack helper")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the stack's resources in moto and print them as KEY=VALUE lines.
    Provision {
        #[arg(long, default_value = "wooxero-local")]
        prefix: String,
    },
    /// Poll the sync queue and invoke xero-sync, forever or until the queue has been empty for --idle-exit seconds.
    Poll {
        #[arg(long, env = "SYNC_QUEUE_URL")]
        queue_url: String,
        /// `cargo lambda watch`'s address.
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        watch_url: String,
        #[arg(long, default_value = "xero-sync")]
        function: String,
    },
    /// Serve the fake Xero identity service on 127.0.0.1 until stopped.
    FakeXero {
        #[arg(long)]
        port: u16,
    },
    /// Send every events/webhook-*.json delivery to webhook-ingest, re-signed with the store's secret.
    Replay {
        #[arg(long)]
        webhook_url: String,
        #[arg(long, env = "DEMO_WEBHOOK_SECRET")]
        secret: String,
        #[arg(long, default_value_os_t = template::repo_root().join("events"))]
        events_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_target(false)
        .init();
    match Cli::parse().command {
        Cmd::Provision { prefix } => {
            let sdk = env::sdk_config().await?;
            let stack = provision(&sdk, &ProvisionOptions { prefix, visibility_timeout_override: None }).await?;
            for (k, v) in env_vars(&stack) {
                println!("{k}={v}");
            }
            println!("SYNC_QUEUE_ARN={}", stack.queue_arn);
            Ok(())
        }
        Cmd::Poll { queue_url, watch_url, function } => poll(queue_url, watch_url, function).await,
        Cmd::Replay { webhook_url, secret, events_dir } => replay(&webhook_url, &secret, &events_dir).await,
        Cmd::FakeXero { port } => {
            let fake = wooxero_tests::fake_identity::FakeIdentity::start_on(
                port,
                wooxero_tests::fake_identity::FakeIdentityConfig::default(),
            )
            .await?;
            println!("fake Xero identity on {}", fake.base_url);
            std::future::pending::<()>().await;
            Ok(())
        }
    }
}

async fn poll(queue_url: String, watch_url: String, function: String) -> anyhow::Result<()> {
    let sdk = env::sdk_config().await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let settings = BatchSettings::from_template()?;
    let invoker = HttpInvoker::watch(&watch_url, &function);
    let poller = Poller { sqs, queue_url, queue_arn: arn, settings, invoker: &invoker };
    println!("poller: batch size {}, window {:?}, invoking {}", settings.batch_size, settings.window, invoker.url);
    loop {
        match poller.run_once().await {
            Ok(Some(o)) => println!(
                "poller: batch of {} -> {} done, {} returned to the queue{}",
                o.received,
                o.deleted,
                o.failed,
                if o.whole_batch_failed { " (whole batch failed)" } else { "" }
            ),
            Ok(None) => {}
            Err(e) => {
                eprintln!("poller: {e:#}");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

async fn replay(webhook_url: &str, secret: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("webhook-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no events/webhook-*.json files in {}", dir.display());
    }
    let client = reqwest::Client::new();
    println!("{:<44} {:<16} {:>6}  RESPONSE", "DELIVERY", "TOPIC", "STATUS");
    for file in files {
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
        let raw = event["body"].as_str().unwrap_or_default();
        let body = if event["isBase64Encoded"].as_bool().unwrap_or(false) {
            base64::engine::general_purpose::STANDARD.decode(raw)?
        } else {
            raw.as_bytes().to_vec()
        };
        let headers = event["headers"].as_object().cloned().unwrap_or_default();
        let topic = headers.get("x-wc-webhook-topic").and_then(|v| v.as_str()).unwrap_or("ping").to_owned();
        let mut req = client.post(webhook_url).body(body.clone());
        for (k, v) in &headers {
            let v = v.as_str().unwrap_or_default();
            // Re-sign with the store's real secret, except deliveries meant to carry a bad signature.
            let bad_on_purpose = file.to_string_lossy().contains("bad-signature");
            if k == "x-wc-webhook-signature" && !bad_on_purpose {
                req = req.header(k, woo_delivery::signature(&body, secret));
            } else {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.with_context(|| format!("posting to {webhook_url}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        println!("{name:<44} {topic:<16} {status:>6}  {text}");
    }
    Ok(())
}
