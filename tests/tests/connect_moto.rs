//! The connect flow end to end: operator link → /connect → Xero consent (fake) → /oauth/callback
//! → tokens in Secrets Manager and the store `connected` (moto), plus every forged or replayed
//! attempt, and disconnect, pause and resume.

use std::time::Duration;

use wooxero_shared::connect::ConnectSettings;
use wooxero_shared::ids::StoreId;
use wooxero_shared::ports::StoreRepo;
use wooxero_shared::store::{ConnectionStatus, StoreStatus};
use wooxero_shared::xero::tokens::{TokenSettings, XeroTokenVault};
use wooxero_tests::connect_harness::{ConnectStack, API_URL};
use wooxero_tests::fake_identity::{FakeIdentityConfig, Tenant};
use wooxero_tests::harness::STORE;

fn store_id() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

async fn assert_nothing_stored(c: &ConnectStack) {
    assert!(c.vault.load_tokens(&store_id()).await.unwrap().is_none(), "no tokens may be stored");
    let store = c.t.table.get(&store_id()).await.unwrap().unwrap();
    assert_eq!(store.connection, ConnectionStatus::NotConnected);
    assert!(store.tenant_id.is_none());
}

#[tokio::test]
async fn full_flow_stores_tokens_and_marks_the_store_connected() {
    let c = ConnectStack::new(FakeIdentityConfig::default()).await.unwrap();
    let id = store_id();
    let token = c.http.deps.create_link(&id).await.unwrap();
    let (status, _, location) = c.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await;
    assert_eq!(status, 302);
    let location = url::Url::parse(&location.unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(location.path(), "/identity/connect/authorize");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], wooxero_tests::fake_identity::CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["scope"],
        "offline_access accounting.invoices accounting.payments accounting.contacts accounting.settings"
    );
    assert!(q["state"].len() >= 43 && q["code_challenge"].len() == 43);

    let callback = c.consent(location.as_str()).await;
    let pairs: Vec<(&str, &str)> = callback.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, page, _) = c.request("GET", "/oauth/callback", &pairs, "").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Demo Company (NZ)"));
    assert!(page.contains(&format!("{API_URL}/webhooks/{STORE}")), "the page shows the delivery URL");
    assert!(page.contains("order.updated") && page.contains("v3"));

    let tokens = c.vault.load_tokens(&id).await.unwrap().expect("tokens in Secrets Manager");
    assert!(!page.contains(secrecy::ExposeSecret::expose_secret(&tokens.access_token)), "no token on the page");
    assert!(!page.contains(secrecy::ExposeSecret::expose_secret(&tokens.refresh_token)));
    assert_eq!(tokens.version, 1);
    assert!(tokens.tenant_id.is_some() && tokens.connection_id.is_some() && tokens.auth_event_id.is_some());
    assert!(tokens.expires_at > time::OffsetDateTime::now_utc().unix_timestamp() + 1700);
    let store = c.t.table.get(&id).await.unwrap().unwrap();
    assert_eq!(store.connection, ConnectionStatus::Connected);
    assert_eq!(store.tenant_name.as_deref(), Some("Demo Company (NZ)"));
    assert_eq!(store.tenant_id, tokens.tenant_id);
    assert!(store.connected_at.is_some());
    // The webhook secret in the same secret document survived.
    use wooxero_shared::ports::WebhookSecrets;
    assert!(c.vault.webhook_secret(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn no_link_a_reused_link_and_a_link_for_another_store_are_refused() {
    let c = ConnectStack::new(FakeIdentityConfig::default()).await.unwrap();
    let (status, page, location) = c.request("GET", &format!("/connect/{STORE}"), &[], "").await;
    assert_eq!((status, location), (403, None), "{page}");
    let (status, _, _) = c.request("GET", &format!("/connect/{STORE}"), &[("t", "guessed-token")], "").await;
    assert_eq!(status, 403);

    let token = c.http.deps.create_link(&store_id()).await.unwrap();
    assert_eq!(c.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await.0, 302);
    assert_eq!(c.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await.0, 403, "a link works once");

    // A second store; its link cannot start a connection for the first one.
    let other = StoreId::parse("shop-2").unwrap();
    c.t.table
        .create(&wooxero_shared::store::Store::new(
            other.clone(),
            "https://two.example".parse().unwrap(),
            time::OffsetDateTime::now_utc(),
        ))
        .await
        .unwrap();
    let other_token = c.http.deps.create_link(&other).await.unwrap();
    assert_eq!(c.request("GET", &format!("/connect/{STORE}"), &[("t", &other_token)], "").await.0, 403);
    assert_nothing_stored(&c).await;
    assert_eq!(c.fake.shared.code_exchanges.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let settings = ConnectSettings { link_ttl: Duration::from_secs(1), ..ConnectSettings::default() };
    let c = ConnectStack::with_settings(FakeIdentityConfig::default(), settings).await.unwrap();
    let token = c.http.deps.create_link(&store_id()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(c.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await.0, 403);
    assert_nothing_stored(&c).await;
}

#[tokio::test]
async fn tampered_reused_and_expired_states_are_refused() {
    let c = ConnectStack::new(FakeIdentityConfig::default()).await.unwrap();
    let token = c.http.deps.create_link(&store_id()).await.unwrap();
    let location = c.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await.2.unwrap();
    let callback: std::collections::HashMap<String, String> = c.consent(&location).await.into_iter().collect();
    let code = callback["code"].as_str();

    // Tampered state: refused, and the real state is still usable only once afterwards.
    let (status, page, _) = c.request("GET", "/oauth/callback", &[("code", code), ("state", "tampered")], "").await;
    assert_eq!(status, 400, "{page}");
    assert_eq!(c.request("GET", "/oauth/callback", &[("code", code)], "").await.0, 400, "no state at all");
    assert_nothing_stored(&c).await;

    let state = callback["state"].as_str();
    assert_eq!(c.request("GET", "/oauth/callback", &[("code", code), ("state", state)], "").await.0, 200);
    // Replaying the same callback: the state is gone.
    let (status, _, _) = c.request("GET", "/oauth/callback", &[("code", code), ("state", state)], "").await;
    assert_eq!(status, 400);
    assert_eq!(
        c.fake.shared.code_exchanges.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the replay never reached Xero"
    );

    // An expired state.
    let settings = ConnectSettings { state_ttl: Duration::from_secs(1), ..ConnectSettings::default() };
    let c2 = ConnectStack::with_settings(FakeIdentityConfig::default(), settings).await.unwrap();
    let token = c2.http.deps.create_link(&store_id()).await.unwrap();
    let location = c2.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await.2.unwrap();
    let callback: std::collections::HashMap<String, String> = c2.consent(&location).await.into_iter().collect();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _, _) =
        c2.request("GET", "/oauth/callback", &[("code", &callback["code"]), ("state", &callback["state"])], "").await;
    assert_eq!(status, 400);
    assert_nothing_stored(&c2).await;
}

#[tokio::test]
async fn declined_consent_shows_a_friendly_page_and_stores_nothing() {
    let c = ConnectStack::new(FakeIdentityConfig { deny_consent: true, ..Default::default() }).await.unwrap();
    let token = c.http.deps.create_link(&store_id()).await.unwrap();
    let location = c.request("GET", &format!("/connect/{STORE}"), &[("t", &token)], "").await.2.unwrap();
    let callback = c.consent(&location).await;
    assert!(callback.iter().any(|(k, v)| k == "error" && v == "access_denied"));
    let pairs: Vec<(&str, &str)> = callback.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, page, _) = c.request("GET", "/oauth/callback", &pairs, "").await;
    assert_eq!(status, 200);
    assert!(page.contains("cancelled"), "{page}");
    assert_nothing_stored(&c).await;
}

#[tokio::test]
async fn several_organisations_ask_which_one_and_the_choice_is_single_use() {
    let tenants = vec![
        Tenant { tenant_id: uuid::Uuid::new_v4().to_string(), name: "Kiwi Ltd".into() },
        Tenant { tenant_id: uuid::Uuid::new_v4().to_string(), name: "Kiwi <Holdings> & Co".into() },
    ];
    let c = ConnectStack::new(FakeIdentityConfig { tenants: tenants.clone(), ..Default::default() }).await.unwrap();
    let (status, page) = c.connect(STORE).await;
    assert_eq!(status, 200);
    assert!(page.contains("Kiwi &lt;Holdings&gt; &amp; Co"), "names are escaped: {page}");
    let choice = page.split("name=\"choice\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(c.t.table.get(&store_id()).await.unwrap().unwrap().connection, ConnectionStatus::NotConnected);

    let form = format!("choice={choice}&tenant_id={}", tenants[1].tenant_id);
    let (status, page, _) = c.request("POST", "/oauth/callback", &[], &form).await;
    assert_eq!(status, 200, "{page}");
    let store = c.t.table.get(&store_id()).await.unwrap().unwrap();
    assert_eq!(
        (store.connection, store.tenant_id.as_deref()),
        (ConnectionStatus::Connected, Some(tenants[1].tenant_id.as_str()))
    );
    let (status, _, _) = c.request("POST", "/oauth/callback", &[], &form).await;
    assert_eq!(status, 400, "the choice works once");
}

#[tokio::test]
async fn disconnect_pause_and_resume() {
    let c = ConnectStack::new(FakeIdentityConfig::default()).await.unwrap();
    assert_eq!(c.connect(STORE).await.0, 200);
    assert_eq!(c.fake.connection_count(), 1);
    let provider = c.provider(TokenSettings::default());
    let notes = c.http.deps.disconnect(&store_id(), &provider).await.unwrap();
    assert!(notes.iter().any(|n| n == "Xero connection deleted"), "{notes:?}");
    assert!(notes.iter().any(|n| n == "refresh token revoked"), "{notes:?}");
    assert_eq!(c.fake.connection_count(), 0);
    assert!(c.vault.load_tokens(&store_id()).await.unwrap().is_none());
    let store = c.t.table.get(&store_id()).await.unwrap().unwrap();
    assert_eq!((store.connection, store.tenant_id), (ConnectionStatus::Disconnected, None));

    // Pause: the store still takes webhooks; resume: active again.
    assert!(c.t.table.set_status(&store_id(), StoreStatus::Paused).await.unwrap());
    let body = wooxero_tests::woo_delivery::order_json(55, "processing", "2026-11-27T10:00:00", 1);
    assert_eq!(c.t.post_signed("order.created", &body).await.0, 200);
    assert_eq!(c.t.drain_jobs().await.len(), 1, "a paused store's delivery is queued");
    assert!(c.t.table.set_status(&store_id(), StoreStatus::Active).await.unwrap());
    assert_eq!(c.t.table.get(&store_id()).await.unwrap().unwrap().status, StoreStatus::Active);
    assert!(!c.t.table.set_status(&StoreId::parse("nope").unwrap(), StoreStatus::Paused).await.unwrap());
}
