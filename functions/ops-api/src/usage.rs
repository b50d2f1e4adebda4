//! `POST /v1/usage`: metered usage from the seller's services.
//!
//! A batch of up to [`MAX_BATCH`] records `{account_id, metric, quantity, timestamp,
//! idempotency_key}`. Each record is judged on its own and the answer says, per record, whether it
//! was `accepted`, a `duplicate` (its key was seen before, in this batch or an earlier one:
//! ignored), or `rejected` with a stable `code` and a reason. Usage for a period already billed is
//! accepted and goes on the next bill with its own service date.
//!
//! If storage fails part-way the answer is 503 and the batch should be sent again as it was:
//! records stored the first time then come back as duplicates, so nothing is counted twice.

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::State;
use billing_domain::catalog::Metric;
use billing_domain::contract::{ContractAccount, UsageEvent, UsageRejection};
use billing_domain::ports::{MAX_USAGE_BATCH, UsageWrite};
use billing_domain::{AccountId, Error as DomainError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::extract::{JsonBody, OpsCaller};
use crate::{OpsError, OpsResult, OpsState, OpsStore};

pub const MAX_BATCH: usize = 1000;
/// A bucket moved by a bill run while we wrote: re-read and choose again, this many times.
const MAX_BUCKET_RETRIES: usize = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    pub records: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Accepted,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordResult {
    pub index: usize,
    pub status: RecordStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The bill (by date) the record will be charged on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
pub struct UsageResponse {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<RecordResult>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    account_id: String,
    metric: String,
    quantity: Value,
    timestamp: String,
    idempotency_key: String,
}

fn rejected(index: usize, code: &'static str, message: impl Into<String>) -> RecordResult {
    RecordResult {
        index,
        status: RecordStatus::Rejected,
        code: Some(code),
        message: Some(message.into()),
        bill_date: None,
    }
}

/// Parses one record, or says what is wrong with it.
pub fn parse(index: usize, raw: Value, now: DateTime<Utc>) -> Result<UsageEvent, RecordResult> {
    let r: RawRecord = serde_json::from_value(raw).map_err(|e| rejected(index, "invalid_record", e.to_string()))?;
    let account_id: AccountId = r
        .account_id
        .parse()
        .map_err(|e: billing_domain::FieldError| rejected(index, "invalid_account_id", e.message))?;
    let metric: Metric =
        r.metric.parse().map_err(|e: billing_domain::FieldError| rejected(index, "invalid_metric", e.message))?;
    let quantity = r
        .quantity
        .as_u64()
        .ok_or_else(|| rejected(index, "invalid_quantity", "quantity must be a whole number of units, 0 or more"))?;
    let timestamp = DateTime::parse_from_rfc3339(&r.timestamp)
        .map_err(|_| rejected(index, "invalid_timestamp", "timestamp must be RFC 3339 (2026-11-03T14:00:00Z)"))?
        .with_timezone(&Utc);
    if timestamp > now + chrono::Duration::seconds(UsageEvent::FUTURE_SKEW_SECS) {
        let why = UsageRejection::InTheFuture;
        return Err(rejected(index, why.code(), why.message()));
    }
    UsageEvent::check_key(&r.idempotency_key).map_err(|e| rejected(index, "invalid_idempotency_key", e.message))?;
    Ok(UsageEvent { account_id, metric, quantity, timestamp, idempotency_key: r.idempotency_key })
}

pub async fn ingest<S: OpsStore>(
    State(state): State<OpsState<S>>,
    _caller: OpsCaller,
    JsonBody(batch): JsonBody<UsageBatch>,
) -> OpsResult<Json<UsageResponse>> {
    if batch.records.len() > MAX_BATCH {
        return Err(OpsError::BatchTooLarge(batch.records.len(), MAX_BATCH));
    }
    let now = Utc::now();
    let mut results: Vec<Option<RecordResult>> = vec![None; batch.records.len()];
    let mut by_account: BTreeMap<AccountId, Vec<(usize, UsageEvent)>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (i, raw) in batch.records.into_iter().enumerate() {
        match parse(i, raw, now) {
            Err(r) => results[i] = Some(r),
            Ok(e) if !seen.insert((e.account_id.clone(), e.idempotency_key.clone())) => {
                results[i] = Some(RecordResult {
                    index: i,
                    status: RecordStatus::Duplicate,
                    code: None,
                    message: Some("the same idempotency_key appears earlier in this batch".into()),
                    bill_date: None,
                });
            }
            Ok(e) => by_account.entry(e.account_id.clone()).or_default().push((i, e)),
        }
    }
    for (account, records) in by_account {
        for r in store_account(&*state.store, &account, records, now).await? {
            let i = r.index;
            results[i] = Some(r);
        }
    }
    let results: Vec<RecordResult> = results.into_iter().map(|r| r.expect("every record is judged")).collect();
    let count = |s: RecordStatus| results.iter().filter(|r| r.status == s).count();
    let response = UsageResponse {
        accepted: count(RecordStatus::Accepted),
        duplicates: count(RecordStatus::Duplicate),
        rejected: count(RecordStatus::Rejected),
        results,
    };
    tracing::info!(
        accepted = response.accepted,
        duplicates = response.duplicates,
        rejected = response.rejected,
        "usage batch"
    );
    Ok(Json(response))
}

/// Stores one account's records in chunks; a bucket moved by a bill run sends the chunk round again.
async fn store_account<S: OpsStore>(
    store: &S,
    account: &AccountId,
    records: Vec<(usize, UsageEvent)>,
    now: DateTime<Utc>,
) -> OpsResult<Vec<RecordResult>> {
    let mut out = Vec::with_capacity(records.len());
    let mut state = store.contract_account(account).await?;
    for chunk in records.chunks(MAX_USAGE_BATCH) {
        let mut attempt = 0;
        loop {
            let Some(contract) = &state else {
                let why = UsageRejection::NotInvoiceBilled;
                out.extend(chunk.iter().map(|(i, _)| rejected(*i, why.code(), why.message())));
                break;
            };
            let (placed, refused) = place(contract, chunk);
            let batch: Vec<_> = placed.iter().map(|(_, bucket, e)| (*bucket, e.clone())).collect();
            match store.store_usage(contract, &batch, now).await? {
                UsageWrite::BucketMoved if attempt < MAX_BUCKET_RETRIES => {
                    attempt += 1;
                    state = store.contract_account(account).await?;
                }
                UsageWrite::BucketMoved => return Err(OpsError::Domain(DomainError::Conflict)),
                UsageWrite::Stored { duplicates } => {
                    out.extend(refused);
                    for (j, (i, bucket, _)) in placed.iter().enumerate() {
                        out.push(if duplicates.contains(&j) {
                            RecordResult {
                                index: *i,
                                status: RecordStatus::Duplicate,
                                code: None,
                                message: Some("a record with this idempotency_key was stored before".into()),
                                bill_date: None,
                            }
                        } else {
                            RecordResult {
                                index: *i,
                                status: RecordStatus::Accepted,
                                code: None,
                                message: None,
                                bill_date: Some(*bucket),
                            }
                        });
                    }
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Each record's bucket, or why it is refused.
fn place(
    contract: &ContractAccount,
    chunk: &[(usize, UsageEvent)],
) -> (Vec<(usize, NaiveDate, UsageEvent)>, Vec<RecordResult>) {
    let mut placed = Vec::new();
    let mut refused = Vec::new();
    for (i, e) in chunk {
        match contract.bucket_for(&e.metric, e.timestamp.date_naive()) {
            Ok(bucket) => placed.push((*i, bucket, e.clone())),
            Err(why) => refused.push(rejected(*i, why.code(), why.message())),
        }
    }
    (placed, refused)
}
