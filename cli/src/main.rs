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
use wooxero_shared::connect::{ConnectDeps, ConnectError, ConnectSettings};
use wooxero_shared::ids::StoreId;
use wooxero_shared::ports::{CreateError, StoreRepo, StoreSecretVault};
use wooxero_shared::store::{webhook_url, Store, StoreStatus, WebhookSetup};
use wooxero_shared::xero::identity::{Connection, IdentityError, TokenGrant, XeroIdentity};
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
    /// Resume syncing the store.
    Resume { store: String },
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
        Command::Resume { store } => set_status(&ctx, &StoreId::parse(&store)?, StoreStatus::Active).await,
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
    }
}

/// Connect links need no Xero app settings; an identity that is never called stands in.
struct NoIdentity;

#[async_trait::async_trait]
impl XeroIdentity for NoIdentity {
    fn authorize_url(&self, _: &str, _: &oauth2::PkceCodeChallenge) -> String {
        String::new()
    }
    async fn exchange_code(&self, _: &str, _: &str) -> Result<TokenGrant, IdentityError> {
        Err(IdentityError::Refused("not available in the CLI".into()))
    }
    async fn refresh(&self, _: &SecretString) -> Result<TokenGrant, IdentityError> {
        Err(IdentityError::Refused("not available in the CLI".into()))
    }
    async fn revoke(&self, _: &SecretString) -> Result<(), IdentityError> {
        Err(IdentityError::Refused("not available in the CLI".into()))
    }
    async fn connections(&self, _: &SecretString, _: Option<&str>) -> Result<Vec<Connection>, IdentityError> {
        Err(IdentityError::Refused("not available in the CLI".into()))
    }
    async fn delete_connection(&self, _: &SecretString, _: &str) -> Result<bool, IdentityError> {
        Err(IdentityError::Refused("not available in the CLI".into()))
    }
}

async fn connect(ctx: &Ctx, id: &StoreId) -> anyhow::Result<()> {
    let token = connect_deps(ctx, Arc::new(NoIdentity)).create_link(id).await.map_err(|e| match e {
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
            if ctx.table.get(&id).await?.is_some() {
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
        StoreCommand::Show { id } => {
            let id = StoreId::parse(&id)?;
            let Some(s) = ctx.table.get(&id).await? else { bail!("no store {id}") };
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
