//! `wooxero`: the operator's CLI. It talks to the same DynamoDB table and Secrets Manager secrets
//! as the functions, named by the same environment variables (see README: "Operating").

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;
use wooxero_shared::aws::{dynamo::DynamoTable, secrets::SecretsManagerVault, AwsClients};
use wooxero_shared::clock::{rfc3339, Clock, SystemClock};
use wooxero_shared::config::{process_env, ResourceNames};
use wooxero_shared::ids::StoreId;
use wooxero_shared::ports::{CreateError, StoreRepo, StoreSecretVault};
use wooxero_shared::store::{webhook_url, Store, WebhookSetup};

#[derive(Parser)]
#[command(
    name = "wooxero",
    version,
    about = "Operate wooxero: stores, connections, mappings, sync status"
)]
struct Cli {
    /// Base URL of the deployed HTTP API (the stack's ApiUrl output).
    #[arg(long, env = "WOOXERO_API_URL", global = true)]
    api_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register and inspect WooCommerce stores.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Register a store and print what to paste into WooCommerce.
    Add {
        /// Store id: lowercase letters, digits and '-', used in the webhook URL.
        id: String,
        /// The WooCommerce site's URL, e.g. https://shop.example.com
        #[arg(long)]
        site_url: String,
        /// Webhook secret to use; by default a 40-character alphanumeric one is generated and printed.
        #[arg(long)]
        webhook_secret: Option<String>,
    },
    /// List registered stores.
    List,
    /// Show one store and its WooCommerce webhook settings.
    Show { id: String },
}

struct Ctx {
    table: DynamoTable,
    vault: SecretsManagerVault,
    api_url: Option<String>,
}

impl Ctx {
    fn delivery_url(&self, id: &StoreId) -> String {
        match &self.api_url {
            Some(base) => webhook_url(base, id),
            None => format!(
                "<ApiUrl stack output>/webhooks/{id}  (set WOOXERO_API_URL to print it in full)"
            ),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let names = ResourceNames::from_env(&process_env())
        .context("the CLI reads the stack's resource names from the environment")?;
    let sdk = wooxero_shared::aws::load_sdk_config().await;
    let clients = AwsClients::new(&sdk, &names);
    let ctx = Ctx {
        table: DynamoTable::new(clients.dynamodb.clone(), &names.table),
        vault: SecretsManagerVault::new(clients.secrets.clone(), &names.store_secret_prefix),
        api_url: cli.api_url,
    };
    match cli.command {
        Command::Store(cmd) => store(&ctx, cmd).await,
    }
}

async fn store(ctx: &Ctx, cmd: StoreCommand) -> anyhow::Result<()> {
    match cmd {
        StoreCommand::Add {
            id,
            site_url,
            webhook_secret,
        } => {
            let id = StoreId::parse(&id)?;
            let site_url = parse_site_url(&site_url)?;
            let generated = webhook_secret.is_none();
            // Alphanumeric avoids WooCommerce's entity-encoding bugs with special characters.
            let secret =
                webhook_secret.unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::rng(), 40));
            if secret.len() < 16 {
                bail!("--webhook-secret must be at least 16 characters");
            }
            let store = Store::new(id.clone(), site_url, SystemClock.now());
            if ctx.table.get(&id).await?.is_some() {
                bail!("store {id} already exists (see `wooxero store show {id}`)");
            }
            // Secret first: a store record without its secret would answer 503 to every delivery.
            match ctx
                .vault
                .create_store_secret(&id, &SecretString::from(secret.clone()))
                .await
            {
                Ok(()) => {}
                // Left by an earlier `store add` that failed before writing the record.
                Err(CreateError::AlreadyExists) => {
                    ctx.vault
                        .set_webhook_secret(&id, &SecretString::from(secret.clone()))
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
            match ctx.table.create(&store).await {
                Ok(()) => {}
                Err(CreateError::AlreadyExists) => {
                    bail!("store {id} already exists (see `wooxero store show {id}`)")
                }
                Err(e) => return Err(e.into()),
            }
            println!("Added store {id} ({}).", store.site_url);
            if generated {
                println!(
                    "Generated webhook secret (shown once; it is kept in Secrets Manager as {}).",
                    ctx.vault.secret_name(&id)
                );
            }
            print!(
                "{}",
                WebhookSetup {
                    delivery_url: ctx.delivery_url(&id),
                    secret: Some(&secret)
                }
                .render()
            );
            Ok(())
        }
        StoreCommand::List => {
            let stores = ctx.table.list().await?;
            if stores.is_empty() {
                println!("No stores. Add one with `wooxero store add <id> --site-url URL`.");
            }
            println!(
                "{:<24} {:<8} {:<16} {:<28} SITE",
                "STORE", "STATUS", "XERO", "CREATED"
            );
            for s in stores {
                println!(
                    "{:<24} {:<8} {:<16} {:<28} {}",
                    s.id,
                    s.status.as_str(),
                    s.connection.as_str(),
                    rfc3339(s.created_at),
                    s.site_url
                );
            }
            Ok(())
        }
        StoreCommand::Show { id } => {
            let id = StoreId::parse(&id)?;
            let Some(s) = ctx.table.get(&id).await? else {
                bail!("no store {id}")
            };
            println!("Store:      {}", s.id);
            println!("Site:       {}", s.site_url);
            println!("Status:     {}", s.status.as_str());
            println!("Xero:       {}", s.connection.as_str());
            if let Some(name) = &s.tenant_name {
                println!("Tenant:     {name}");
            }
            println!("Created:    {}", rfc3339(s.created_at));
            println!("Secret:     {}", ctx.vault.secret_name(&id));
            print!(
                "{}",
                WebhookSetup {
                    delivery_url: ctx.delivery_url(&id),
                    secret: None
                }
                .render()
            );
            Ok(())
        }
    }
}

fn parse_site_url(text: &str) -> anyhow::Result<url::Url> {
    let url = url::Url::parse(text).with_context(|| format!("--site-url {text:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("--site-url must be an http(s) URL with a host, got {text:?}");
    }
    Ok(url)
}
