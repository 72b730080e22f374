//! The real binaries, served by `cargo lambda watch` from the local stack that scripts/test.sh
//! starts (its settings are in the env file named by WOOXERO_LOCAL_ENV): proves each main.rs wires
//! config, AWS clients and handler together, over HTTP and through the events/ files.

use std::collections::HashMap;
use std::process::Command;

use wooxero_tests::template::repo_root;
use wooxero_tests::woo_delivery::{self, order_json};

fn local_env() -> HashMap<String, String> {
    let path = std::env::var("WOOXERO_LOCAL_ENV").expect(
        "WOOXERO_LOCAL_ENV is not set: run scripts/test.sh, which starts the local stack under cargo lambda watch",
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn queued_order_ids(env: &HashMap<String, String>) -> Vec<u64> {
    let sdk = wooxero_tests::env::sdk_config().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut ids = Vec::new();
    loop {
        let out =
            sqs.receive_message().queue_url(&env["SYNC_QUEUE_URL"]).max_number_of_messages(10).send().await.unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return ids;
        }
        for m in messages {
            let job = wooxero_shared::job::SyncJob::parse(m.body().unwrap_or_default()).unwrap();
            ids.push(job.order_id.get());
            sqs.delete_message()
                .queue_url(&env["SYNC_QUEUE_URL"])
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn cargo_lambda_invoke(env: &HashMap<String, String>, function: &str, event_file: &str) -> serde_json::Value {
    let port = env["WATCH_URL"].rsplit(':').next().unwrap().to_owned();
    let out = Command::new(repo_root().join(".venv/bin/cargo-lambda"))
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port,
            "--output-format",
            "json",
            "--data-file",
        ])
        .arg(repo_root().join("events").join(event_file))
        .current_dir(repo_root())
        .output()
        .expect("running cargo lambda invoke");
    assert!(out.status.success(), "cargo lambda invoke {function} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn the_function_binaries_serve_real_requests() {
    let env = local_env();
    let url = format!("{}/webhooks/{}", env["WOOXERO_API_URL"], env["DEMO_STORE"]);
    let secret = &env["DEMO_WEBHOOK_SECRET"];
    let http = reqwest::Client::new();
    queued_order_ids(&env).await; // start from an empty queue

    // Ping: exactly 200.
    let ping = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=9")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);

    // A signed order over HTTP reaches the queue once, however often it is delivered.
    let order_id = 900_000 + u64::from(rand::random::<u16>());
    let body = order_json(order_id, "processing", "2026-11-27T10:00:00", 3);
    for _ in 0..3 {
        let mut req = http.post(&url).body(body.clone());
        for (k, v) in woo_delivery::headers("order.updated", body.as_bytes(), secret, 3) {
            req = req.header(k, v);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 200);
    }

    // A wrong secret and an unknown store.
    let mut bad = http.post(&url).body(body.clone());
    for (k, v) in woo_delivery::headers("order.updated", body.as_bytes(), "wrong-secret-0123456789", 3) {
        bad = bad.header(k, v);
    }
    assert_eq!(bad.send().await.unwrap().status().as_u16(), 401);
    let unknown = format!("{}/webhooks/no-such-store", env["WOOXERO_API_URL"]);
    assert_eq!(http.post(&unknown).body(body.clone()).send().await.unwrap().status().as_u16(), 404);

    assert_eq!(queued_order_ids(&env).await, vec![order_id]);

    // The events/ files work with cargo lambda invoke (they are signed for the demo store).
    let resp = cargo_lambda_invoke(&env, "webhook-ingest", "webhook-05-order-created-base64.json");
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let outcome: serde_json::Value = serde_json::from_str(resp["body"].as_str().unwrap_or("{}")).unwrap();
    assert!(matches!(outcome["outcome"].as_str(), Some("queued" | "duplicate")), "{outcome}");
    let resp = cargo_lambda_invoke(&env, "webhook-ingest", "webhook-08-bad-signature.json");
    assert_eq!(resp["statusCode"], 401, "{resp}");
    let resp = cargo_lambda_invoke(&env, "xero-sync", "sqs-sync-job.json");
    assert_eq!(resp["batchItemFailures"], serde_json::json!([]), "{resp}");
    // Without a valid one-time link, /connect answers 403 and changes nothing.
    let resp = cargo_lambda_invoke(&env, "oauth-callback", "http-connect-start.json");
    assert_eq!(resp["statusCode"], 403, "{resp}");

    // The connect flow through the real oauth-callback binary and the CLI, with the fake Xero
    // playing login and identity: link → /connect → consent → /oauth/callback.
    let cli = Command::new(repo_root().join("target/debug/wooxero"))
        .args(["connect", &env["DEMO_STORE"]])
        .envs(env.iter())
        .output()
        .expect("running wooxero connect");
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let link = String::from_utf8_lossy(&cli.stdout).lines().last().unwrap_or_default().to_owned();
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Connected to Xero"), "{page}");
    assert!(page.contains(&format!("/webhooks/{}", env["DEMO_STORE"])));
    // The link worked once.
    assert_eq!(http.get(&link).send().await.unwrap().status().as_u16(), 403);
    let show = Command::new(repo_root().join("target/debug/wooxero"))
        .args(["store", "show", &env["DEMO_STORE"]])
        .envs(env.iter())
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("Xero:       connected"), "{show}");
    assert!(show.contains("access token expires"), "{show}");
}
