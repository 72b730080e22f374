//! `wooxero`: the operator's CLI. It talks to the same DynamoDB table and Secrets Manager secrets
//! as the functions, named by the same environment variables (see README: "Operating").

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;
use wooxero_shared::aws::{dynamo::DynamoTable, secrets::SecretsManagerVault, AwsClients};
use wooxero_shared::clock::{rfc3339, Clock, SystemClock};
use wooxero_shared::config::XeroConfig;
use wooxero_shared::config::{process_env, ResourceNames};
use wooxero_shared::connect::{ConnectDeps, ConnectError, ConnectSettings, LINK_TTL};
use wooxero_shared::ids::OrderId;
use wooxero_shared::ids::StoreId;
use wooxero_shared::mapping::{Mapping, MappingError};
use wooxero_shared::ports::{CreateError, StoreRepo, StoreSecretVault};
use wooxero_shared::ports::{MappingRepo, OrderStateRepo, SyncStatus, WooKeyVault, WooKeys};
use wooxero_shared::store::{webhook_url, Store, StoreStatus, WebhookSetup};
use wooxero_shared::xero::identity::XeroIdentity;
use wooxero_shared::xero::tokens::XeroTokenVault;

#[derive(Parser)]
#[command(name = "wooxero", version, about = "Operate wooxero: stores, connections, mappings, sync status")]
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
    /// Print a one-time link (valid 15 minutes) that connects the store to a Xero organisation.
    Connect { store: String },
    /// Disconnect the store from Xero: delete the connection, revoke the refresh token, forget the tokens.
    Disconnect { store: String },
    /// Stop syncing the store; webhooks are still taken and its jobs wait.
    Pause { store: String },
    /// Resume syncing the store; its parked jobs go back on the queue.
    Resume { store: String },
    /// Show or set the store's mapping (accounts, tax rates, numbering; see docs/mapping.md).
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Orders by sync state with their reasons, or one order's whole history.
    Status {
        store: String,
        /// One order's history (events, documents, errors).
        order_id: Option<u64>,
        /// Only the failed orders.
        #[arg(long)]
        failed: bool,
    },
    /// Re-queue a failed order (or all of them) after fixing the cause.
    Retry {
        store: String,
        order_id: Option<u64>,
        #[arg(long)]
        all_failed: bool,
    },
}

#[derive(Subcommand)]
enum MappingCommand {
    /// Print the mapping in force (the defaults when none was set).
    Get { store: String },
    /// Validate a mapping document and store it; an invalid one is refused with each problem's path.
    Set { store: String, file: std::path::PathBuf },
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
    /// Store WooCommerce REST API keys, so the sync reads the current order instead of the webhook body.
    SetRestKeys {
        id: String,
        #[arg(long)]
        consumer_key: String,
        #[arg(long, env = "WOO_CONSUMER_SECRET")]
        consumer_secret: String,
    },
}

struct Ctx {
    table: DynamoTable,
    vault: Arc<SecretsManagerVault>,
    api_url: Option<String>,
}

impl Ctx {
    fn delivery_url(&self, id: &StoreId) -> String {
        match &self.api_url {
            Some(base) => webhook_url(base, id),
            None => format!("<ApiUrl stack output>/webhooks/{id}  (set WOOXERO_API_URL to print it in full)"),
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
        vault: Arc::new(SecretsManagerVault::new(clients.secrets.clone(), &names.store_secret_prefix)),
        api_url: cli.api_url,
    };
    match cli.command {
        Command::Store(cmd) => store(&ctx, cmd).await,
        Command::Connect { store } => connect(&ctx, &StoreId::parse(&store)?).await,
        Command::Disconnect { store } => disconnect(&ctx, &clients, &names, &StoreId::parse(&store)?).await,
        Command::Pause { store } => set_status(&ctx, &StoreId::parse(&store)?, StoreStatus::Paused).await,
        Command::Resume { store } => {
            let id = StoreId::parse(&store)?;
            set_status(&ctx, &id, StoreStatus::Active).await?;
            let n = wooxero_shared::admin::requeue_parked(&ctx.table, &queue(&clients, &names), &id).await?;
            println!("{n} parked job(s) re-queued.");
            Ok(())
        }
        Command::Mapping(MappingCommand::Get { store }) => {
            let id = StoreId::parse(&store)?;
            let mapping = MappingRepo::get(&ctx.table, &id).await?;
            if mapping.is_none() {
                eprintln!("(store {id} has no mapping yet; these are the defaults)");
            }
            println!("{}", serde_json::to_string_pretty(&mapping.unwrap_or_default())?);
            Ok(())
        }
        Command::Mapping(MappingCommand::Set { store, file }) => {
            let id = StoreId::parse(&store)?;
            if StoreRepo::get(&ctx.table, &id).await?.is_none() {
                bail!("no store {id}");
            }
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let mapping = Mapping::parse(&text).map_err(|e| match e {
                MappingError::Invalid(issues) => {
                    anyhow::anyhow!(
                        "the mapping was not stored:\n{}",
                        issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n")
                    )
                }
                other => anyhow::anyhow!("the mapping was not stored: {other}"),
            })?;
            MappingRepo::put(&ctx.table, &id, &mapping).await?;
            println!("Mapping for store {id} stored.");
            Ok(())
        }
        Command::Status { store, order_id, failed } => status(&ctx, &StoreId::parse(&store)?, order_id, failed).await,
        Command::Retry { store, order_id, all_failed } => {
            let id = StoreId::parse(&store)?;
            let order = match (order_id, all_failed) {
                (Some(o), false) => Some(OrderId::new(o)?),
                (None, true) => None,
                _ => bail!("name one order id, or --all-failed"),
            };
            let n = wooxero_shared::admin::retry(&ctx.table, &queue(&clients, &names), &id, order).await?;
            println!("{n} order(s) re-queued.");
            Ok(())
        }
    }
}

fn connect_deps(ctx: &Ctx, identity: Arc<dyn XeroIdentity>) -> ConnectDeps {
    ConnectDeps {
        stores: Arc::new(ctx.table.clone()),
        once: Arc::new(ctx.table.clone()),
        identity,
        vault: ctx.vault.clone(),
        clock: Arc::new(SystemClock),
        settings: ConnectSettings::default(),
        parked: None,
    }
}

async fn connect(ctx: &Ctx, id: &StoreId) -> anyhow::Result<()> {
    let token =
        wooxero_shared::connect::create_link(&ctx.table, &ctx.table, id, LINK_TTL).await.map_err(|e| match e {
            ConnectError::UnknownStore => anyhow::anyhow!("no store {id}"),
            other => other.into(),
        })?;
    let base = ctx.api_url.as_deref().context("set WOOXERO_API_URL (or --api-url) to the stack's ApiUrl output")?;
    println!("Open this link in a browser within 15 minutes to connect store {id} to Xero (it works once):");
    println!("{}/connect/{id}?t={token}", connect_base(base));
    Ok(())
}

/// The connect route lives on the same API as the webhooks, except locally where cargo lambda
/// watch serves each function under its own prefix.
fn connect_base(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    match base.strip_suffix("/lambda-url/webhook-ingest") {
        Some(root) => format!("{root}/lambda-url/oauth-callback"),
        None => base.to_owned(),
    }
}

async fn disconnect(ctx: &Ctx, clients: &AwsClients, names: &ResourceNames, id: &StoreId) -> anyhow::Result<()> {
    let xero = XeroConfig::from_env(&process_env()).context("disconnect talks to Xero: set the Xero app variables")?;
    let identity: Arc<dyn XeroIdentity> = Arc::new(wooxero_shared::xero::identity_from_config(clients, &xero)?);
    let provider = wooxero_shared::xero::token_provider(clients, names, identity.clone());
    let notes = connect_deps(ctx, identity).disconnect(id, &provider).await?;
    println!("Store {id} is disconnected from Xero.");
    for n in notes {
        println!("  - {n}");
    }
    Ok(())
}

fn queue(clients: &AwsClients, names: &ResourceNames) -> wooxero_shared::aws::sqs::SqsJobQueue {
    wooxero_shared::aws::sqs::SqsJobQueue::new(clients.sqs.clone(), &names.sync_queue_url)
}

async fn status(ctx: &Ctx, id: &StoreId, order: Option<u64>, failed_only: bool) -> anyhow::Result<()> {
    if let Some(order) = order {
        let Some(state) = OrderStateRepo::get(&ctx.table, id, OrderId::new(order)?).await? else {
            bail!("store {id} has no record of order {order}");
        };
        println!("Order {order} of store {id}: {}", state.status.as_str());
        println!("  WooCommerce status: {}", state.order_status.as_deref().unwrap_or("-"));
        println!("  Modified (GMT):     {}", state.modified_gmt.as_deref().unwrap_or("-"));
        println!(
            "  Invoice:            {} {}",
            state.invoice_number.as_deref().unwrap_or("-"),
            state.invoice_id.as_deref().unwrap_or("")
        );
        println!("  Total:              {}", state.total.as_deref().unwrap_or("-"));
        println!("  Xero calls:         {}", state.xero_calls);
        if let Some(e) = &state.last_error {
            println!("  Last error:         {e}");
        }
        println!("  History:");
        for e in &state.events {
            println!("    {e}");
        }
        return Ok(());
    }
    let statuses: &[SyncStatus] = if failed_only {
        &[SyncStatus::Failed]
    } else {
        &[SyncStatus::Failed, SyncStatus::Parked, SyncStatus::Creating, SyncStatus::Synced, SyncStatus::Skipped]
    };
    println!("{:<10} {:<10} {:<14} {:<12} {:<12} REASON", "ORDER", "STATE", "INVOICE", "TOTAL", "WOO STATUS");
    for status in statuses {
        for st in OrderStateRepo::list_by_status(&ctx.table, id, *status).await? {
            println!(
                "{:<10} {:<10} {:<14} {:<12} {:<12} {}",
                st.order_id,
                st.status.as_str(),
                st.invoice_number.as_deref().unwrap_or("-"),
                st.total.as_deref().unwrap_or("-"),
                st.order_status.as_deref().unwrap_or("-"),
                st.last_error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

async fn set_status(ctx: &Ctx, id: &StoreId, status: StoreStatus) -> anyhow::Result<()> {
    if !ctx.table.set_status(id, status).await? {
        bail!("no store {id}");
    }
    match status {
        StoreStatus::Paused => println!("Store {id} is paused: webhooks are still taken, sync jobs wait."),
        StoreStatus::Active => println!("Store {id} is active: sync resumes."),
    }
    Ok(())
}

async fn store(ctx: &Ctx, cmd: StoreCommand) -> anyhow::Result<()> {
    match cmd {
        StoreCommand::Add { id, site_url, webhook_secret } => {
            let id = StoreId::parse(&id)?;
            let site_url = parse_site_url(&site_url)?;
            let generated = webhook_secret.is_none();
            // Alphanumeric avoids WooCommerce's entity-encoding bugs with special characters.
            let secret = webhook_secret.unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::rng(), 40));
            if secret.len() < 16 {
                bail!("--webhook-secret must be at least 16 characters");
            }
            let store = Store::new(id.clone(), site_url, SystemClock.now());
            if StoreRepo::get(&ctx.table, &id).await?.is_some() {
                bail!("store {id} already exists (see `wooxero store show {id}`)");
            }
            // Secret first: a store record without its secret would answer 503 to every delivery.
            match ctx.vault.create_store_secret(&id, &SecretString::from(secret.clone())).await {
                Ok(()) => {}
                // Left by an earlier `store add` that failed before writing the record.
                Err(CreateError::AlreadyExists) => {
                    ctx.vault.set_webhook_secret(&id, &SecretString::from(secret.clone())).await?;
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
            print!("{}", WebhookSetup { delivery_url: ctx.delivery_url(&id), secret: Some(&secret) }.render());
            Ok(())
        }
        StoreCommand::List => {
            let stores = ctx.table.list().await?;
            if stores.is_empty() {
                println!("No stores. Add one with `wooxero store add <id> --site-url URL`.");
            }
            println!("{:<24} {:<8} {:<16} {:<28} SITE", "STORE", "STATUS", "XERO", "CREATED");
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
        StoreCommand::SetRestKeys { id, consumer_key, consumer_secret } => {
            let id = StoreId::parse(&id)?;
            if StoreRepo::get(&ctx.table, &id).await?.is_none() {
                bail!("no store {id}");
            }
            let keys = WooKeys { consumer_key, consumer_secret: SecretString::from(consumer_secret) };
            ctx.vault.set_woo_keys(&id, &keys).await?;
            println!("WooCommerce REST keys stored for {id}; the sync now reads each order from the site's REST API.");
            Ok(())
        }
        StoreCommand::Show { id } => {
            let id = StoreId::parse(&id)?;
            let Some(s) = StoreRepo::get(&ctx.table, &id).await? else { bail!("no store {id}") };
            println!("Store:      {}", s.id);
            println!("Site:       {}", s.site_url);
            println!("Status:     {}", s.status.as_str());
            println!("Xero:       {}", s.connection.as_str());
            if let Some(name) = &s.tenant_name {
                println!("Tenant:     {name}");
            }
            println!("Created:    {}", rfc3339(s.created_at));
            if let Some(c) = &s.connection_id {
                println!("Connection: {c}");
            }
            if let Some(at) = s.connected_at {
                println!("Connected:  {}", rfc3339(at));
            }
            println!("Secret:     {}", ctx.vault.secret_name(&id));
            if let Some(tokens) = ctx.vault.load_tokens(&id).await? {
                let expiry =
                    time::OffsetDateTime::from_unix_timestamp(tokens.expires_at).map(rfc3339).unwrap_or_default();
                println!(
                    "Token:      access token expires {expiry}; last refresh {}; version {}",
                    tokens.refreshed_at, tokens.version
                );
                println!("Scopes:     {}", tokens.scopes.join(" "));
            }
            print!("{}", WebhookSetup { delivery_url: ctx.delivery_url(&id), secret: None }.render());
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
