//! template.yaml settings that AWS would not reject but that would hurt in production.

use serde_yaml::Value;
use wooxero_tests::template::{as_str, as_u64, Template};

const FUNCTIONS: [&str; 3] = ["WebhookIngestFunction", "XeroSyncFunction", "OAuthCallbackFunction"];

#[test]
fn functions_are_rust_on_arm64_with_json_logs() {
    let t = Template::load().unwrap();
    for f in FUNCTIONS {
        assert_eq!(as_str(t.function_property(f, "Runtime")), Some("provided.al2023"), "{f}");
        assert_eq!(as_str(t.function_property(f, "Handler")), Some("bootstrap"), "{f}");
        let arch = t.function_property(f, "Architectures").and_then(Value::as_sequence).unwrap();
        assert_eq!(arch.len(), 1);
        assert_eq!(arch[0].as_str(), Some("arm64"));
        let meta = t.resource(f).unwrap().get("Metadata").unwrap();
        assert_eq!(as_str(meta.get("BuildMethod")), Some("rust-cargolambda"), "{f}");
        let logging = t.function_property(f, "LoggingConfig").unwrap();
        assert_eq!(as_str(logging.get("LogFormat")), Some("JSON"));
        let code_uri = as_str(t.function_property(f, "CodeUri")).unwrap();
        let crate_dir = wooxero_tests::template::repo_root().join(code_uri);
        assert!(crate_dir.join("Cargo.toml").exists(), "{f}: CodeUri {code_uri} is not a crate");
        assert!(!crate_dir.join("src/bin/bootstrap.rs").exists(), "no binary may be named bootstrap");
    }
}

#[test]
fn the_sync_queue_is_safe_for_partial_batches() {
    let t = Template::load().unwrap();
    let event = t.sqs_event().unwrap();
    let types = event.get("FunctionResponseTypes").and_then(Value::as_sequence).unwrap();
    assert!(types.iter().any(|v| v.as_str() == Some("ReportBatchItemFailures")));
    assert!(as_u64(event.get("BatchSize")).unwrap() >= 1);
    assert!(as_u64(event.get("MaximumBatchingWindowInSeconds")).is_some());
    let max_conc = as_u64(event.get("ScalingConfig").and_then(|s| s.get("MaximumConcurrency"))).unwrap();
    assert!((2..=1000).contains(&max_conc));
    let timeout = as_u64(t.function_property("XeroSyncFunction", "Timeout")).unwrap();
    let q = t.properties("SyncQueue").unwrap();
    assert!(as_u64(q.get("VisibilityTimeout")).unwrap() >= 6 * timeout, "queue VT must be >= 6x the function timeout");
    assert!(as_u64(q.get("RedrivePolicy").and_then(|r| r.get("maxReceiveCount"))).unwrap() >= 5);
}

#[test]
fn the_table_has_a_ttl_and_the_stores_index() {
    let t = Template::load().unwrap();
    let table = t.properties("Table").unwrap();
    assert_eq!(as_str(table.get("TimeToLiveSpecification").and_then(|s| s.get("AttributeName"))), Some("expires_at"));
    let gsis = table.get("GlobalSecondaryIndexes").and_then(Value::as_sequence).unwrap();
    assert!(gsis.iter().any(|g| as_str(g.get("IndexName")) == Some(wooxero_shared::aws::dynamo::STORES_GSI)));
}

/// Inline policy statements name no `*` action and no bare `*` resource.
#[test]
fn policies_are_least_privilege() {
    let t = Template::load().unwrap();
    for f in FUNCTIONS {
        let policies = t.properties(f).unwrap().get("Policies").and_then(Value::as_sequence).unwrap();
        for p in policies {
            let Some(statements) = p.get("Statement").and_then(Value::as_sequence) else {
                continue;
            };
            for s in statements {
                let actions: Vec<&str> = match s.get("Action") {
                    Some(Value::String(a)) => vec![a.as_str()],
                    Some(Value::Sequence(a)) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                assert!(actions.iter().all(|a| !a.contains('*')), "{f}: wildcard action in {actions:?}");
                if let Some(Value::String(r)) = s.get("Resource") {
                    assert_ne!(r, "*", "{f}: bare * resource");
                }
            }
        }
    }
}

#[test]
fn http_routes_exist_for_webhooks_and_the_connect_flow() {
    let t = Template::load().unwrap();
    let mut routes = Vec::new();
    for f in FUNCTIONS {
        let events = t.properties(f).unwrap().get("Events").and_then(Value::as_mapping).unwrap();
        for (_, e) in events {
            if as_str(e.get("Type")) == Some("HttpApi") {
                let p = e.get("Properties").unwrap();
                routes.push(format!("{} {}", as_str(p.get("Method")).unwrap(), as_str(p.get("Path")).unwrap()));
            }
        }
    }
    for want in ["POST /webhooks/{store_id}", "GET /connect/{store_id}", "GET /oauth/callback"] {
        assert!(routes.iter().any(|r| r == want), "missing route {want}: {routes:?}");
    }
    let outputs = t.doc.get("Outputs").and_then(Value::as_mapping).unwrap();
    for key in ["WebhookBaseUrl", "TableName", "SyncQueueUrl", "SyncDeadLetterQueueUrl"] {
        assert!(outputs.contains_key(key), "missing output {key}");
    }
}
