//! The invoice mailer: reads the billing table's stream (the follow-up work items the webhook and
//! the seat provisioner write) and mails each bill, receipt, failed-payment notice and seats
//! notice to the account's people, exactly once per (kind, subject, recipient).
//!
//! A send is claimed in the table before SES is called and marked sent with SES's message id
//! after; a redelivered record finds it sent and sends nothing. A failed SES call gives the claim
//! back and reports the record failed, so Lambda retries it (and, after its retries, the
//! on-failure destination keeps it): nothing is dropped silently.

pub use billing_documents::{format, pdf, render};
pub mod send;

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use billing_domain::billing::WorkItem;
use billing_domain::invoice::Invoice;
use billing_domain::mail::{MailKey, MailKind, bill_recipients};
use billing_domain::ports::{AccountReader, BillingReader, MailLedger, MemberReader, SendClaim, Suppressions};
use billing_domain::ports::{BillDocuments, CreditNoteReader, bill_document_key};
use billing_domain::receivables::Receivable;
use billing_domain::{AccountId, Email, Error, MemberStatus, Role};
use chrono::Utc;

use crate::render::{BillFacts, Brand, Rendered};
use crate::send::{Attachment, MailSender, Outgoing, mime};

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
    #[error("building the message failed: {0}")]
    Build(String),
    #[error("sending failed: {0}")]
    Send(String),
    #[error("{0} is being sent by another delivery; retry")]
    InFlight(String),
    #[error("{0}")]
    Missing(String),
}

/// Everything the mailer reads and writes in the table.
pub trait MailerStore:
    AccountReader + BillingReader + MemberReader + MailLedger + Suppressions + CreditNoteReader
{
}
impl<T: AccountReader + BillingReader + MemberReader + MailLedger + Suppressions + CreditNoteReader> MailerStore for T {}

/// How long a claimed send may stay unfinished before another delivery may take it over (a
/// sender that died between claiming and recording).
pub const SEND_LEASE_SECS: i64 = 5 * 60;

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub brand: Brand,
    pub from_name: String,
    pub from_address: String,
    /// How long a claimed send is left to its sender before another delivery may take it over
    /// ([`SEND_LEASE_SECS`]; tests that compress time shorten it).
    pub send_lease_secs: i64,
}

#[derive(Clone)]
pub struct Mailer {
    store: Arc<dyn MailerStore>,
    sender: Arc<dyn MailSender>,
    settings: Arc<MailSettings>,
    /// Where contract bills' PDFs are kept; without it, their mails go without one.
    documents: Option<Arc<dyn BillDocuments>>,
}

impl Mailer {
    pub fn new(store: impl MailerStore + 'static, sender: impl MailSender + 'static, settings: MailSettings) -> Self {
        Self { store: Arc::new(store), sender: Arc::new(sender), settings: Arc::new(settings), documents: None }
    }

    /// Contract bills get a PDF, made once, kept in `documents` and attached to their bill and
    /// reminder mails.
    pub fn with_documents(mut self, documents: impl BillDocuments + 'static) -> Self {
        self.documents = Some(Arc::new(documents));
        self
    }

    /// A stream batch: records in order; the first that fails is reported (with the ones after
    /// it, which Lambda retries from there), as `ReportBatchItemFailures` expects.
    pub async fn handle(&self, event: StreamEvent) -> DynamoDbEventResponse {
        billing_aws::stream::process(&event, |work| async move {
            let sent = self.work(&work).await?;
            tracing::info!(kind = work.kind(), account_id = %work.account_id(), event_id = work.event_id(), sent, "work item mailed");
            Ok::<_, MailerError>(())
        })
        .await
    }

    /// Mails what one work item calls for; returns how many mails went out now.
    ///
    /// The critical path is the fewest round trips the work allows: what the mail needs read at
    /// once (the account beside its invoice), then each recipient's mail at the same time as the
    /// others', each: claim (one write that also checks the address is not suppressed), send,
    /// record.
    pub async fn work(&self, work: &WorkItem) -> Result<usize, MailerError> {
        let account_id = work.account_id();
        let brand = &self.settings.brand;
        let mut attachment = None;
        let (kind, subject, rendered, recipients) = match work {
            WorkItem::BillReady { invoice_id, .. } => {
                let (account, invoice) = self.account_and_invoice(account_id, invoice_id).await?;
                let facts = BillFacts::new(brand, &account, &invoice);
                attachment = self.document(&facts, &invoice).await?;
                (MailKind::BillReady, invoice_id.clone(), render::bill(&facts)?, bill_recipients(&account))
            }
            WorkItem::PaymentReceived { invoice_id, amount_paid, event_id, .. } => {
                let (account, invoice) = self.account_and_invoice(account_id, invoice_id).await?;
                let facts = BillFacts::new(brand, &account, &invoice);
                // Per event: an invoice paid in two parts gets two receipts.
                let rendered = render::receipt(&facts, amount_paid)?;
                (MailKind::PaymentReceived, event_id.clone(), rendered, bill_recipients(&account))
            }
            WorkItem::PaymentFailed { invoice_id, amount_due, event_id, .. } => {
                let (account, invoice) = self.account_and_invoice(account_id, invoice_id).await?;
                let facts = BillFacts::new(brand, &account, &invoice);
                let rendered = render::payment_failed(&facts, amount_due)?;
                (MailKind::PaymentFailed, event_id.clone(), rendered, bill_recipients(&account))
            }
            WorkItem::PaymentReturned { invoice_id, check_number, amount, bills, reason, fee, event_id, .. } => {
                let (account, invoice) = self.account_and_invoice(account_id, invoice_id).await?;
                let facts = BillFacts::new(brand, &account, &invoice);
                attachment = self.document(&facts, &invoice).await?;
                let returned = render::Returned {
                    check: check_number.as_deref(),
                    amount,
                    bills,
                    reason: reason.describe(),
                    fee: fee.as_ref(),
                    balance_due: &account.balance_due,
                };
                let rendered = render::payment_returned(&facts, &returned)?;
                (MailKind::PaymentReturned, event_id.clone(), rendered, bill_recipients(&account))
            }
            WorkItem::SeatsReady { seats, pending_removal, entitled, event_id, .. } => {
                let (account, admins) = tokio::try_join!(self.account(account_id), self.admins(account_id))?;
                let rendered = render::seats_ready(brand, &account, seats.get(), *pending_removal, *entitled)?;
                (MailKind::SeatsReady, event_id.clone(), rendered, admins)
            }
            WorkItem::MemberInvited { email, role, event_id, .. } => {
                let rendered = render::invitation(brand, &self.account(account_id).await?, *role)?;
                (MailKind::MemberInvitation, event_id.clone(), rendered, vec![email.clone()])
            }
            WorkItem::BillFormatNotice { go_live, first_bill_date, event_id, .. } => {
                let account = self.account(account_id).await?;
                let rendered = render::bill_format_notice(brand, &account, *go_live, *first_bill_date)?;
                (MailKind::BillFormatNotice, event_id.clone(), rendered, bill_recipients(&account))
            }
            // A bill paid, credited or voided since the reminder was queued gets none.
            WorkItem::PaymentReminder { invoice_id, event_id, as_of, .. } => {
                let (account, invoice) = self.account_and_invoice(account_id, invoice_id).await?;
                let Some(open) = Receivable::of(&invoice) else {
                    tracing::info!(invoice_id = %invoice_id, status = invoice.status.as_str(), "nothing left to remind of");
                    return Ok(0);
                };
                let facts = BillFacts::new(brand, &account, &invoice);
                attachment = self.document(&facts, &invoice).await?;
                let rendered =
                    render::payment_reminder(&facts, open.days_past_due((*as_of).max(Utc::now().date_naive())))?;
                (MailKind::PaymentReminder, event_id.clone(), rendered, bill_recipients(&account))
            }
            WorkItem::CreditNoteIssued { credit_note_id, event_id, .. } => {
                let (account, note) = tokio::try_join!(self.account(account_id), async {
                    self.store
                        .credit_note(account_id, credit_note_id)
                        .await?
                        .ok_or_else(|| MailerError::Missing(format!("credit note {credit_note_id} of {account_id}")))
                })?;
                let invoice = self.invoice(account_id, &note.invoice_id).await?;
                let facts = render::CreditNoteFacts::new(brand, &account, &note, &invoice);
                attachment = self.credit_note_document(&facts, &note).await?;
                (MailKind::CreditNote, event_id.clone(), render::credit_note(&facts)?, bill_recipients(&account))
            }
            // The seat provisioner's; nothing to mail.
            WorkItem::SeatsChanged { .. } => return Ok(0),
        };
        // Every recipient's mail at once; each is claimed, sent and recorded on its own, so one
        // failing leaves the others sent (and a retry sends only what is missing).
        let mails = recipients.into_iter().map(|to| {
            let key = MailKey { kind, subject: subject.clone(), recipient: to };
            let (rendered, attachment) = (&rendered, attachment.as_ref());
            async move { self.deliver(&key, rendered, attachment).await }
        });
        let mut sent = 0;
        let mut failed = None;
        for result in futures::future::join_all(mails).await {
            match result {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    async fn account(&self, id: &AccountId) -> Result<billing_domain::Account, MailerError> {
        self.store.account(id).await?.ok_or_else(|| MailerError::Missing(format!("account {id}")))
    }

    /// The account and one of its invoices, read together.
    async fn account_and_invoice(
        &self,
        account: &AccountId,
        invoice_id: &str,
    ) -> Result<(billing_domain::Account, Invoice), MailerError> {
        tokio::try_join!(self.account(account), self.invoice(account, invoice_id))
    }

    /// A contract bill's PDF as it is kept: made and stored the first time, the stored one after
    /// (a bill's PDF is the bill as issued). `None` for the processor's invoices (they carry the
    /// processor's own PDF link) or when no document store is set.
    async fn document(&self, facts: &BillFacts, invoice: &Invoice) -> Result<Option<Attachment>, MailerError> {
        if !billing_domain::ledger::is_contract_bill(&invoice.id) {
            return Ok(None);
        }
        let filename = format!("{}.pdf", invoice.number.as_deref().unwrap_or(&invoice.id));
        self.keep(&invoice.account_id, &invoice.id, filename, || pdf::bill(facts, invoice.created, &invoice.id)).await
    }

    /// A credit note's PDF as it is kept (made and stored the first time); `None` without a
    /// document store.
    async fn credit_note_document(
        &self,
        facts: &render::CreditNoteFacts,
        note: &billing_domain::ledger::CreditNote,
    ) -> Result<Option<Attachment>, MailerError> {
        let filename = format!("{}.pdf", note.number);
        self.keep(&note.account_id, &note.id, filename, || pdf::credit_note(facts, note.created, &note.id)).await
    }

    /// The document of `id` (a bill or credit note of `account`) as it is kept: `make` makes it
    /// and it is stored the first time; after that the stored one is attached. `None` without a
    /// document store (nothing is made).
    async fn keep(
        &self,
        account: &AccountId,
        id: &str,
        filename: String,
        make: impl FnOnce() -> Result<Vec<u8>, pdf::PdfError>,
    ) -> Result<Option<Attachment>, MailerError> {
        let Some(documents) = &self.documents else { return Ok(None) };
        let made = make().map_err(|e| MailerError::Build(e.to_string()))?;
        let kept = documents.store_once(&bill_document_key(account, id), &made).await?;
        Ok(Some(Attachment { filename, content_type: "application/pdf", bytes: kept }))
    }

    async fn invoice(&self, account: &AccountId, invoice_id: &str) -> Result<Invoice, MailerError> {
        self.store
            .account_invoice(account, invoice_id)
            .await?
            .ok_or_else(|| MailerError::Missing(format!("invoice {invoice_id} of {account}")))
    }

    /// The account's active admins (suppressed addresses are left out when each mail is claimed).
    async fn admins(&self, account: &AccountId) -> Result<Vec<Email>, MailerError> {
        Ok(self
            .store
            .members(account)
            .await?
            .into_iter()
            .filter(|m| m.role == Role::Admin && m.status == MemberStatus::Active)
            .map(|m| m.email)
            .collect())
    }

    /// Claim, send, record. `Ok(false)`: sent before, or the address is suppressed.
    async fn deliver(
        &self,
        key: &MailKey,
        rendered: &Rendered,
        attachment: Option<&Attachment>,
    ) -> Result<bool, MailerError> {
        match self.store.claim_send(key, Utc::now(), self.settings.send_lease_secs).await? {
            SendClaim::AlreadySent(id) => {
                tracing::info!(mail = %key.id(), message_id = %id, "already sent");
                return Ok(false);
            }
            SendClaim::InFlight => return Err(MailerError::InFlight(key.id())),
            SendClaim::Suppressed => {
                tracing::info!(mail = %key.id(), "recipient suppressed (bounced or complained): not sent");
                return Ok(false);
            }
            SendClaim::Claimed => {}
        }
        let s = &self.settings;
        let outgoing = Outgoing {
            from_name: s.from_name.clone(),
            from_address: s.from_address.clone(),
            to: key.recipient.clone(),
            rendered: rendered.clone(),
            message_id: message_id(key, &s.from_address),
            attachment: attachment.cloned(),
        };
        let result = match mime(&outgoing) {
            Ok(raw) => self.sender.send(&s.from_address, &key.recipient, &raw).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(id) => {
                // SES has the mail: a send left unrecorded is sent again once its lease runs out.
                let mut retry = billing_domain::retry::Retry::to_record_an_effect();
                let mut failed = None;
                while retry.attempt().await {
                    match self.store.sent(key, &id, Utc::now()).await {
                        Ok(()) => {
                            failed = None;
                            break;
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                if let Some(e) = failed {
                    tracing::error!(error = %e, mail = %key.id(), message_id = %id, "sent, but not recorded");
                    return Err(e.into());
                }
                tracing::info!(mail = %key.id(), message_id = %id, "sent");
                Ok(true)
            }
            Err(e) => {
                // Give the claim back so the retry sends; if that fails too, the lease expires.
                if let Err(release) = self.store.release(key).await {
                    tracing::error!(error = %release, mail = %key.id(), "claim not released; it expires with its lease");
                }
                Err(e)
            }
        }
    }

    /// SES bounce and complaint notifications (through SNS): permanent bounces and complaints put
    /// the address on the suppression list.
    pub async fn feedback(&self, event: SnsEvent) -> Result<usize, MailerError> {
        let mut suppressed = 0;
        for record in event.records {
            let Ok(n) = serde_json::from_str::<serde_json::Value>(&record.sns.message) else {
                tracing::warn!("SES notification that is not JSON");
                continue;
            };
            let kind = n["notificationType"].as_str().or_else(|| n["eventType"].as_str()).unwrap_or_default();
            let (reason, list) = match kind {
                "Bounce" if n["bounce"]["bounceType"] == "Permanent" => ("bounce", &n["bounce"]["bouncedRecipients"]),
                "Complaint" => ("complaint", &n["complaint"]["complainedRecipients"]),
                _ => continue,
            };
            for r in list.as_array().into_iter().flatten() {
                if let Some(Ok(email)) = r["emailAddress"].as_str().map(str::parse::<Email>) {
                    self.store.suppress(&email, reason, Utc::now()).await?;
                    tracing::warn!(reason, "address suppressed");
                    suppressed += 1;
                }
            }
        }
        Ok(suppressed)
    }
}

/// A stable Message-ID per send key.
fn message_id(key: &MailKey, from: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.id().as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let domain = from.rsplit_once('@').map_or("billing.invalid", |(_, d)| d);
    format!("{}.{hex}@{domain}", key.kind.as_str())
}

/// What the function is invoked with: a DynamoDB stream batch (work items) or an SNS delivery
/// (SES feedback). Anything else is an error, so a misrouted trigger shows in the alarms.
pub async fn dispatch(mailer: &Mailer, payload: serde_json::Value) -> Result<serde_json::Value, lambda_runtime::Error> {
    let source = payload["Records"][0]["eventSource"]
        .as_str()
        .or_else(|| payload["Records"][0]["EventSource"].as_str())
        .unwrap_or_default()
        .to_owned();
    match source.as_str() {
        "aws:dynamodb" => {
            let event: StreamEvent = serde_json::from_value(payload)?;
            Ok(serde_json::to_value(mailer.handle(event).await)?)
        }
        "aws:sns" => {
            let event: SnsEvent = serde_json::from_value(payload)?;
            mailer.feedback(event).await?;
            Ok(serde_json::json!({}))
        }
        other => Err(format!("unexpected event source {other:?}").into()),
    }
}
