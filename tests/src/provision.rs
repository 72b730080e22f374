//! Creates the stack's table, queues and bucket in moto exactly as `template.yaml` declares them
//! (keys, GSI, TTL attribute, visibility timeout, redrive policy), under the given names.

use std::time::Duration;

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;
use wooxero_shared::config::ResourceNames;

use crate::template::{as_str, as_u64, Template};

/// The local stack's resource names and the queue settings the poller needs.
#[derive(Debug, Clone)]
pub struct LocalStack {
    pub names: ResourceNames,
    pub queue_arn: String,
    pub dlq_url: String,
    pub visibility_timeout: Duration,
    pub max_receive_count: u64,
}

pub struct ProvisionOptions {
    /// Prefix for every resource name; tests use a unique one each so they can run in parallel.
    pub prefix: String,
    /// Replaces the template's visibility timeout (360 s) so retry tests need not wait minutes.
    pub visibility_timeout_override: Option<Duration>,
}

fn key_schema(v: &Value) -> anyhow::Result<Vec<KeySchemaElement>> {
    v.as_sequence()
        .ok_or_else(|| anyhow!("KeySchema is not a list"))?
        .iter()
        .map(|k| {
            let key_type = match as_str(k.get("KeyType")) {
                Some("HASH") => KeyType::Hash,
                Some("RANGE") => KeyType::Range,
                other => return Err(anyhow!("unknown KeyType {other:?}")),
            };
            Ok(KeySchemaElement::builder()
                .attribute_name(as_str(k.get("AttributeName")).unwrap_or_default())
                .key_type(key_type)
                .build()?)
        })
        .collect()
}

pub async fn provision(sdk: &aws_config::SdkConfig, opts: &ProvisionOptions) -> anyhow::Result<LocalStack> {
    let template = Template::load()?;
    let p = &opts.prefix;
    let names = ResourceNames {
        table: format!("{p}-table"),
        sync_queue_url: String::new(),
        payload_bucket: format!("{p}-payloads"),
        store_secret_prefix: format!("{p}/stores/"),
        s3_force_path_style: true,
    };

    // DynamoDB table.
    let table = template.properties("Table")?;
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let mut create = ddb.create_table().table_name(&names.table).billing_mode(BillingMode::PayPerRequest);
    for a in table.get("AttributeDefinitions").and_then(Value::as_sequence).into_iter().flatten() {
        let t = match as_str(a.get("AttributeType")) {
            Some("S") => ScalarAttributeType::S,
            Some("N") => ScalarAttributeType::N,
            Some("B") => ScalarAttributeType::B,
            other => return Err(anyhow!("unknown AttributeType {other:?}")),
        };
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(as_str(a.get("AttributeName")).unwrap_or_default())
                .attribute_type(t)
                .build()?,
        );
    }
    create = create
        .set_key_schema(Some(key_schema(table.get("KeySchema").ok_or_else(|| anyhow!("Table has no KeySchema"))?)?));
    for g in table.get("GlobalSecondaryIndexes").and_then(Value::as_sequence).into_iter().flatten() {
        let projection = match as_str(g.get("Projection").and_then(|p| p.get("ProjectionType"))) {
            Some("KEYS_ONLY") => ProjectionType::KeysOnly,
            _ => ProjectionType::All,
        };
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(as_str(g.get("IndexName")).unwrap_or_default())
                .set_key_schema(Some(key_schema(g.get("KeySchema").ok_or_else(|| anyhow!("GSI has no KeySchema"))?)?))
                .projection(Projection::builder().projection_type(projection).build())
                .build()?,
        );
    }
    create.send().await.context("creating the table")?;
    if let Some(ttl_attr) = as_str(table.get("TimeToLiveSpecification").and_then(|t| t.get("AttributeName"))) {
        ddb.update_time_to_live()
            .table_name(&names.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name(ttl_attr).enabled(true).build()?,
            )
            .send()
            .await
            .context("enabling TTL")?;
    }

    // Queues: DLQ first, then the sync queue redriving into it.
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dlq_props = template.properties("SyncDeadLetterQueue")?;
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{p}-sync-dlq"))
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            as_u64(dlq_props.get("MessageRetentionPeriod")).unwrap_or(1_209_600).to_string(),
        )
        .send()
        .await
        .context("creating the DLQ")?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = queue_arn(&sqs, &dlq_url).await?;
    let q = template.properties("SyncQueue")?;
    let template_vt =
        as_u64(q.get("VisibilityTimeout")).ok_or_else(|| anyhow!("SyncQueue has no VisibilityTimeout"))?;
    let vt = opts.visibility_timeout_override.unwrap_or(Duration::from_secs(template_vt));
    let max_receive_count = as_u64(q.get("RedrivePolicy").and_then(|r| r.get("maxReceiveCount")))
        .ok_or_else(|| anyhow!("SyncQueue has no RedrivePolicy.maxReceiveCount"))?;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}).to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{p}-sync"))
        .attributes(QueueAttributeName::VisibilityTimeout, vt.as_secs().max(1).to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .context("creating the sync queue")?
        .queue_url
        .unwrap_or_default();
    let arn = queue_arn(&sqs, &queue_url).await?;

    // Payload bucket.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    s3.create_bucket().bucket(&names.payload_bucket).send().await.context("creating the payload bucket")?;

    Ok(LocalStack {
        names: ResourceNames { sync_queue_url: queue_url, ..names },
        queue_arn: arn,
        dlq_url,
        visibility_timeout: vt,
        max_receive_count,
    })
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    let attrs = sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await?;
    attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| anyhow!("queue {url} has no ARN"))
}

/// Environment variables that point a function or the CLI at this stack.
pub fn env_vars(stack: &LocalStack) -> Vec<(&'static str, String)> {
    vec![
        ("TABLE_NAME", stack.names.table.clone()),
        ("SYNC_QUEUE_URL", stack.names.sync_queue_url.clone()),
        ("SYNC_DLQ_URL", stack.dlq_url.clone()),
        ("PAYLOAD_BUCKET", stack.names.payload_bucket.clone()),
        ("STORE_SECRET_PREFIX", stack.names.store_secret_prefix.clone()),
        ("S3_FORCE_PATH_STYLE", "true".into()),
    ]
}
