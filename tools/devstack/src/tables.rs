//! Creates DynamoDB tables from `infra/template.yaml`: the template is the single source of truth
//! for key schemas, indexes, streams and TTL; nothing here repeats them.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde_norway::Value;

/// One `AWS::DynamoDB::Table` of the template, as CreateTable needs it.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub logical_id: String,
    pub attributes: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub gsis: Vec<GlobalSecondaryIndex>,
    pub stream: Option<StreamViewType>,
    pub ttl_attribute: Option<String>,
}

fn str_at<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| anyhow!("missing string `{key}`"))
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>> {
    v.as_sequence()
        .ok_or_else(|| anyhow!("KeySchema is not a list"))?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(str_at(k, "AttributeName")?)
                .key_type(KeyType::from(str_at(k, "KeyType")?))
                .build()?)
        })
        .collect()
}

/// Every DynamoDB table the template defines.
pub fn parse_template(yaml: &str) -> Result<Vec<TableSpec>> {
    let doc: Value = serde_norway::from_str(yaml).context("infra/template.yaml is not YAML")?;
    let resources =
        doc.get("Resources").and_then(Value::as_mapping).ok_or_else(|| anyhow!("template has no Resources"))?;
    let mut specs = Vec::new();
    for (id, res) in resources {
        if res.get("Type").and_then(Value::as_str) != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let logical_id = id.as_str().unwrap_or_default().to_owned();
        let p = res.get("Properties").ok_or_else(|| anyhow!("{logical_id}: no Properties"))?;
        let attributes = p
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| anyhow!("{logical_id}: no AttributeDefinitions"))?
            .iter()
            .map(|a| {
                Ok(AttributeDefinition::builder()
                    .attribute_name(str_at(a, "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(str_at(a, "AttributeType")?))
                    .build()?)
            })
            .collect::<Result<_>>()?;
        let key = key_schema(p.get("KeySchema").ok_or_else(|| anyhow!("{logical_id}: no KeySchema"))?)?;
        let gsis = match p.get("GlobalSecondaryIndexes").and_then(Value::as_sequence) {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .map(|g| {
                    let proj = g.get("Projection").ok_or_else(|| anyhow!("index without Projection"))?;
                    let mut projection =
                        Projection::builder().projection_type(ProjectionType::from(str_at(proj, "ProjectionType")?));
                    for attr in proj.get("NonKeyAttributes").and_then(Value::as_sequence).into_iter().flatten() {
                        projection = projection.non_key_attributes(attr.as_str().unwrap_or_default());
                    }
                    Ok(GlobalSecondaryIndex::builder()
                        .index_name(str_at(g, "IndexName")?)
                        .set_key_schema(Some(key_schema(
                            g.get("KeySchema").ok_or_else(|| anyhow!("index without KeySchema"))?,
                        )?))
                        .projection(projection.build())
                        .build()?)
                })
                .collect::<Result<_>>()?,
        };
        let stream =
            p.get("StreamSpecification").map(|s| str_at(s, "StreamViewType").map(StreamViewType::from)).transpose()?;
        let ttl_attribute = p
            .get("TimeToLiveSpecification")
            .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
            .map(|t| str_at(t, "AttributeName").map(str::to_owned))
            .transpose()?;
        if p.get("BillingMode").and_then(Value::as_str) != Some("PAY_PER_REQUEST") {
            bail!("{logical_id}: the local stack only creates PAY_PER_REQUEST tables");
        }
        specs.push(TableSpec { logical_id, attributes, key_schema: key, gsis, stream, ttl_attribute });
    }
    Ok(specs)
}

/// Creates `spec` as `name` (with its stream and TTL setting) and waits until it is active.
pub async fn create(client: &Client, spec: &TableSpec, name: &str) -> Result<()> {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(spec.attributes.clone()))
        .set_key_schema(Some(spec.key_schema.clone()));
    if !spec.gsis.is_empty() {
        req = req.set_global_secondary_indexes(Some(spec.gsis.clone()));
    }
    if let Some(view) = &spec.stream {
        req = req.stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(view.clone()).build()?,
        );
    }
    req.send().await.with_context(|| format!("creating table {name}"))?;
    if let Some(attr) = &spec.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name(attr).enabled(true).build()?)
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(())
}

/// Creates every table of the template, each named by `name(logical_id)`; returns
/// `(logical id, table name)` pairs.
pub async fn create_from_template(client: &Client, name: impl Fn(&str) -> String) -> Result<Vec<(String, String)>> {
    let path = crate::template_path();
    let yaml = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut created = Vec::new();
    for spec in parse_template(&yaml)? {
        let table = name(&spec.logical_id);
        create(client, &spec, &table).await?;
        created.push((spec.logical_id, table));
    }
    Ok(created)
}

/// Whether `name` exists already (a stand-in that outlived an earlier `make dev`).
pub async fn exists(client: &Client, name: &str) -> Result<bool> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_billing_table_from_the_real_template() {
        let yaml = std::fs::read_to_string(crate::template_path()).unwrap();
        let specs = parse_template(&yaml).unwrap();
        let billing = specs.iter().find(|s| s.logical_id == "BillingTable").expect("BillingTable");
        let keys: Vec<_> = billing.key_schema.iter().map(|k| (k.attribute_name(), k.key_type().as_str())).collect();
        assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
        assert_eq!(billing.gsis.len(), 3);
        assert_eq!(billing.gsis[0].index_name(), "gsi1");
        assert_eq!(billing.stream, Some(StreamViewType::NewAndOldImages));
        assert_eq!(billing.ttl_attribute.as_deref(), Some("expires_at"));
    }

    #[test]
    fn the_adapter_uses_the_keys_the_template_defines() {
        use billing_aws::dynamo::keys;
        let yaml = std::fs::read_to_string(crate::template_path()).unwrap();
        let billing = parse_template(&yaml).unwrap().into_iter().find(|s| s.logical_id == "BillingTable").unwrap();
        assert_eq!(billing.key_schema[0].attribute_name(), keys::PK);
        assert_eq!(billing.key_schema[1].attribute_name(), keys::SK);
        for (gsi, (name, pk, sk)) in billing.gsis.iter().zip([
            (keys::GSI1, keys::GSI1_PK, keys::GSI1_SK),
            (keys::GSI2, keys::GSI2_PK, keys::GSI2_SK),
            (keys::GSI3, keys::GSI3_PK, keys::GSI3_SK),
        ]) {
            assert_eq!(gsi.index_name(), name);
            assert_eq!(gsi.key_schema()[0].attribute_name(), pk);
            assert_eq!(gsi.key_schema()[1].attribute_name(), sk);
        }
        assert_eq!(billing.ttl_attribute.as_deref(), Some(keys::EXPIRES_AT));
    }
}
