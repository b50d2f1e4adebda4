//! The calls this function makes to Stripe, behind a trait: re-reading an object when an event's
//! payload cannot be ordered against the stored state, or reading one an event only names (a
//! disputed charge, an invoice line's product). The adapter uses async-stripe's client; tests and
//! the local stack point it at a fake Stripe server.

use async_trait::async_trait;
use billing_domain::{Error, Result};
use billing_stripe::classify;

/// One page of Stripe's event list (newest first) and whether more follow.
pub struct EventPage {
    pub events: Vec<stripe_shared::Event>,
    pub has_more: bool,
}

#[async_trait]
pub trait StripeObjects: Send + Sync {
    /// The subscription as Stripe holds it now. `Error::NotFound` if Stripe has no such object;
    /// `Error::Unavailable` for anything a retry can fix.
    async fn subscription(&self, id: &str) -> Result<stripe_shared::Subscription>;

    /// Events created at or after `since` (epoch seconds), newest first, 100 a page, continuing
    /// after `starting_after`.
    async fn events(&self, since: i64, starting_after: Option<&str>) -> Result<EventPage>;

    /// The charge (payment) as Stripe holds it now.
    async fn charge(&self, id: &str) -> Result<stripe_shared::Charge>;

    /// Marks the invoice paid out of band (its money came through a Checkout payment); an
    /// invoice already paid is fine. `idempotency_key` makes a repeat harmless.
    async fn settle_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<()>;

    /// The product (its name, for bills) as Stripe holds it now.
    async fn product(&self, id: &str) -> Result<stripe_shared::Product>;

    /// One page (100) of an invoice's lines after `starting_after`, and whether more follow.
    async fn invoice_lines(
        &self,
        invoice_id: &str,
        starting_after: Option<&str>,
    ) -> Result<(Vec<stripe_shared::InvoiceLineItem>, bool)>;
}

/// async-stripe's client (API version 2026-09-30.endive), built once per process.
pub struct StripeApi {
    client: stripe::Client,
}

impl StripeApi {
    /// `base_url`: Stripe's own when `None`; the fake server's in tests and locally.
    pub fn new(secret_key: &str, base_url: Option<&str>) -> Result<Self> {
        Ok(Self { client: billing_stripe::client(secret_key, base_url)? })
    }
}

#[async_trait]
impl StripeObjects for StripeApi {
    async fn subscription(&self, id: &str) -> Result<stripe_shared::Subscription> {
        stripe_billing::subscription::RetrieveSubscription::new(id).send(&self.client).await.map_err(classify)
    }

    async fn events(&self, since: i64, starting_after: Option<&str>) -> Result<EventPage> {
        let mut req = stripe_core::event::ListEvent::new().created(stripe_types::RangeQueryTs::gte(since)).limit(100);
        if let Some(after) = starting_after {
            req = req.starting_after(after);
        }
        let list = req.send(&self.client).await.map_err(classify)?;
        Ok(EventPage { events: list.data, has_more: list.has_more })
    }

    async fn charge(&self, id: &str) -> Result<stripe_shared::Charge> {
        stripe_core::charge::RetrieveCharge::new(id).send(&self.client).await.map_err(classify)
    }

    async fn settle_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<()> {
        use billing_stripe::StripeRequest;
        let paid = stripe_billing::invoice::PayInvoice::new(invoice_id)
            .paid_out_of_band(true)
            .customize()
            .request_strategy(billing_stripe::idempotent(idempotency_key)?)
            .send(&self.client)
            .await;
        match paid {
            Ok(_) => Ok(()),
            // Refused because it is no longer open: fine if it is paid (by this or another way).
            Err(stripe::StripeError::Stripe(api, 400)) => {
                let now = stripe_billing::invoice::RetrieveInvoice::new(invoice_id)
                    .send(&self.client)
                    .await
                    .map_err(classify)?;
                if now.status == Some(stripe_shared::InvoiceStatus::Paid) {
                    Ok(())
                } else {
                    tracing::error!(invoice_id, error = ?api, status = ?now.status, "invoice could not be settled");
                    Err(Error::Unavailable(format!("invoice {invoice_id} could not be settled").into()))
                }
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn product(&self, id: &str) -> Result<stripe_shared::Product> {
        stripe_product::product::RetrieveProduct::new(id).send(&self.client).await.map_err(classify)
    }

    async fn invoice_lines(
        &self,
        invoice_id: &str,
        starting_after: Option<&str>,
    ) -> Result<(Vec<stripe_shared::InvoiceLineItem>, bool)> {
        let mut req = stripe_billing::invoice_line_item::ListInvoiceInvoiceLineItem::new(invoice_id).limit(100);
        if let Some(after) = starting_after {
            req = req.starting_after(after);
        }
        let page = req.send(&self.client).await.map_err(classify)?;
        Ok((page.data, page.has_more))
    }
}
