//! The calls this function makes to Stripe, behind a trait: re-reading an object when an event's
//! payload cannot be ordered against the stored state, or reading one an event only names (a
//! disputed charge, an invoice line's product). The adapter uses async-stripe's client; tests and
//! the local stack point it at a fake Stripe server.

use std::future::Future;
use std::pin::Pin;

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

    /// A tax rate Stripe Tax applied (its name, jurisdiction and percentage, for bills).
    async fn tax_rate(&self, id: &str) -> Result<stripe_shared::TaxRate>;

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

    /// Like [`new`](Self::new), each attempt bounded by `timeout` rather than
    /// [`billing_stripe::ATTEMPT_TIMEOUT`].
    pub fn with_timeout(secret_key: &str, base_url: Option<&str>, timeout: std::time::Duration) -> Result<Self> {
        Ok(Self { client: billing_stripe::client_with_timeout(secret_key, base_url, timeout)? })
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

    async fn tax_rate(&self, id: &str) -> Result<stripe_shared::TaxRate> {
        stripe_product::tax_rate::RetrieveTaxRate::new(id).send(&self.client).await.map_err(classify)
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

/// How [`OnFirstUse`] makes its client.
pub type MakeClient<T> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T>> + Send>> + Send + Sync>;

/// A Stripe client made when an event first needs one, then kept for the process.
///
/// Most events never call Stripe (only a paid Checkout's settlement, a dispute's charge, a
/// product no event named, or an event that cannot be ordered do), so the webhook does not read
/// the API key or build the client's TLS at cold start. A failure to make it (the key's secret
/// unreadable) fails only the event that needed it, as `Unavailable`: Stripe redelivers it, and
/// the next call tries again.
pub struct OnFirstUse<T> {
    make: MakeClient<T>,
    made: tokio::sync::OnceCell<T>,
}

impl<T: StripeObjects> OnFirstUse<T> {
    pub fn new(make: MakeClient<T>) -> Self {
        Self { make, made: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&T> {
        self.made.get_or_try_init(|| (self.make)()).await
    }
}

#[async_trait]
impl<T: StripeObjects> StripeObjects for OnFirstUse<T> {
    async fn subscription(&self, id: &str) -> Result<stripe_shared::Subscription> {
        self.get().await?.subscription(id).await
    }

    async fn events(&self, since: i64, starting_after: Option<&str>) -> Result<EventPage> {
        self.get().await?.events(since, starting_after).await
    }

    async fn charge(&self, id: &str) -> Result<stripe_shared::Charge> {
        self.get().await?.charge(id).await
    }

    async fn settle_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<()> {
        self.get().await?.settle_invoice(invoice_id, idempotency_key).await
    }

    async fn product(&self, id: &str) -> Result<stripe_shared::Product> {
        self.get().await?.product(id).await
    }

    async fn tax_rate(&self, id: &str) -> Result<stripe_shared::TaxRate> {
        self.get().await?.tax_rate(id).await
    }

    async fn invoice_lines(
        &self,
        invoice_id: &str,
        starting_after: Option<&str>,
    ) -> Result<(Vec<stripe_shared::InvoiceLineItem>, bool)> {
        self.get().await?.invoice_lines(invoice_id, starting_after).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers `product` with "no such product"; nothing else is called here.
    struct NoProducts;

    #[async_trait]
    impl StripeObjects for NoProducts {
        async fn subscription(&self, _: &str) -> Result<stripe_shared::Subscription> {
            unreachable!()
        }
        async fn events(&self, _: i64, _: Option<&str>) -> Result<EventPage> {
            unreachable!()
        }
        async fn charge(&self, _: &str) -> Result<stripe_shared::Charge> {
            unreachable!()
        }
        async fn settle_invoice(&self, _: &str, _: &str) -> Result<()> {
            unreachable!()
        }
        async fn product(&self, _: &str) -> Result<stripe_shared::Product> {
            Err(Error::NotFound)
        }
        async fn tax_rate(&self, _: &str) -> Result<stripe_shared::TaxRate> {
            unreachable!()
        }
        async fn invoice_lines(&self, _: &str, _: Option<&str>) -> Result<(Vec<stripe_shared::InvoiceLineItem>, bool)> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn the_client_is_made_on_first_use_once_and_a_failure_to_make_it_is_retried() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        let lazy = OnFirstUse::new(Box::new(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Err(Error::Unavailable("the key's secret could not be read".into()))
                } else {
                    Ok(NoProducts)
                }
            })
        }));
        assert_eq!(attempts.load(Ordering::SeqCst), 0, "nothing made before it is needed");
        assert!(matches!(lazy.product("prod_1").await, Err(Error::Unavailable(_))));
        assert!(matches!(lazy.product("prod_1").await, Err(Error::NotFound)));
        assert!(matches!(lazy.product("prod_2").await, Err(Error::NotFound)));
        assert_eq!(attempts.load(Ordering::SeqCst), 2, "made once it succeeded");
    }
}
