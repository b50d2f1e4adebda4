//! [`PaymentProcessor`] over async-stripe (Stripe API version 2026-09-30.endive). The client is
//! built once per process; its base URL is Stripe's unless configured (the fake Stripe server in
//! tests and `make dev`). Stripe's integer minor units are converted with the currency's exponent
//! here, at the boundary.

use async_trait::async_trait;
use billing_domain::billing::{PlanInterval, SeatCount, SubscriptionStatus};
use billing_domain::invoice::InvoiceStatus;
use billing_domain::{AccountId, Currency, Error, Money, Result};
use billing_stripe::{StripeRequest, classify, idempotent, metadata, time};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::{
    CreatePreviewInvoice, CreatePreviewInvoiceSubscriptionDetails, CreatePreviewInvoiceSubscriptionDetailsItems,
    CreatePreviewInvoiceSubscriptionDetailsProrationBehavior, PayInvoice, RetrieveInvoice,
};
use stripe_billing::subscription::{
    RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAutomaticTax, CreateCheckoutSessionCustomerCreation,
    CreateCheckoutSessionCustomerUpdate, CreateCheckoutSessionCustomerUpdateAddress,
    CreateCheckoutSessionCustomerUpdateName, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsAdjustableQuantity, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionSubscriptionData,
    CreateCheckoutSessionTaxIdCollection, ProductData,
};
use stripe_core::customer::{UpdateCustomer, UpdateCustomerInvoiceSettings};
use stripe_payment::payment_method::DetachPaymentMethod;
use stripe_shared::CheckoutSessionMode;

use crate::processor::{
    InvoiceCharge, PayOutcome, PaymentProcessor, PreviewLine, ProcessorInvoice, Redirect, SeatChange, SeatCheckout,
    SeatItem, SeatPreview,
};

pub struct StripeClient {
    client: stripe::Client,
}

impl StripeClient {
    /// `base_url`: Stripe's own when `None`.
    pub fn new(secret_key: &str, base_url: Option<&str>) -> Result<Self> {
        Ok(Self { client: billing_stripe::client(secret_key, base_url)? })
    }
}

fn currency(c: &stripe_types::Currency) -> Result<Currency> {
    billing_stripe::currency(c).ok_or_else(|| Error::Corrupt(format!("Stripe currency {c} unknown to this system")))
}

fn stripe_currency(c: Currency) -> Result<stripe_types::Currency> {
    c.code().to_ascii_lowercase().parse().map_err(|_| Error::Corrupt(format!("currency {c} unknown to Stripe")))
}

fn minor(m: &Money) -> Result<i64> {
    m.to_minor().map_err(|e| Error::Corrupt(format!("amount {m}: {e}")))
}

fn redirect(id: impl ToString, url: Option<String>) -> Result<Redirect> {
    let url = url.ok_or_else(|| Error::Corrupt("Stripe returned a session without a URL".into()))?;
    Ok(Redirect { id: id.to_string(), url })
}

fn invoice_status(s: Option<&stripe_shared::InvoiceStatus>) -> InvoiceStatus {
    use stripe_shared::InvoiceStatus as S;
    match s {
        Some(S::Open) => InvoiceStatus::Open,
        Some(S::Paid) => InvoiceStatus::Paid,
        Some(S::Uncollectible) => InvoiceStatus::Uncollectible,
        Some(S::Void) => InvoiceStatus::Void,
        _ => InvoiceStatus::Draft,
    }
}

#[async_trait]
impl PaymentProcessor for StripeClient {
    async fn seat_checkout(&self, c: &SeatCheckout) -> Result<Redirect> {
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(c.price_id.clone());
        item.quantity = Some(u64::from(c.quantity.get()));
        let mut adjustable = CreateCheckoutSessionLineItemsAdjustableQuantity::new(true);
        adjustable.minimum = Some(1);
        adjustable.maximum = Some(i64::from(c.max_quantity));
        item.adjustable_quantity = Some(adjustable);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(metadata::for_account(&c.account));
        let mut req = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .client_reference_id(c.account.as_str())
            .line_items(vec![item])
            .subscription_data(subscription)
            .metadata(metadata::for_account(&c.account))
            .success_url(c.success_url.as_str())
            .cancel_url(c.cancel_url.as_str());
        match (&c.customer, &c.customer_email) {
            (Some(customer), _) => req = req.customer(customer.as_str()),
            (None, Some(email)) => req = req.customer_email(email.as_str()),
            (None, None) => {}
        }
        if c.automatic_tax {
            // Stripe Tax needs the customer's address (Checkout asks for it and, for a customer
            // that exists, saves it with the name), and takes a tax ID for business customers.
            req = req
                .automatic_tax(CreateCheckoutSessionAutomaticTax::new(true))
                .tax_id_collection(CreateCheckoutSessionTaxIdCollection::new(true));
            if c.customer.is_some() {
                let mut update = CreateCheckoutSessionCustomerUpdate::new();
                update.address = Some(CreateCheckoutSessionCustomerUpdateAddress::Auto);
                update.name = Some(CreateCheckoutSessionCustomerUpdateName::Auto);
                req = req.customer_update(update);
            }
        }
        let session = req
            .customize()
            .request_strategy(idempotent(&c.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(classify)?;
        redirect(&session.id, session.url)
    }

    async fn setup_checkout(
        &self,
        account: &AccountId,
        customer: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<Redirect> {
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Setup)
            .customer(customer)
            .client_reference_id(account.as_str())
            .metadata(metadata::for_account(account))
            .currency(stripe_types::Currency::USD)
            .success_url(success_url)
            .cancel_url(cancel_url)
            .send(&self.client)
            .await
            .map_err(classify)?;
        redirect(&session.id, session.url)
    }

    async fn invoice_checkout(
        &self,
        account: &AccountId,
        customer: Option<&str>,
        charges: &[InvoiceCharge],
        success_url: &str,
        cancel_url: &str,
        idempotency_key: &str,
    ) -> Result<Redirect> {
        let mut items = Vec::with_capacity(charges.len());
        for charge in charges {
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(stripe_currency(charge.amount.currency())?);
            price.unit_amount = Some(minor(&charge.amount)?);
            price.product_data = Some(ProductData::new(charge.description.as_str()));
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price);
            item.quantity = Some(1);
            items.push(item);
        }
        let ids: Vec<&str> = charges.iter().filter(|c| !c.contract).map(|c| c.invoice_id.as_str()).collect();
        let bills = charges.iter().filter(|c| c.contract).map(|c| (c.invoice_id.as_str(), &c.amount));
        let metadata = metadata::for_payment(account, &ids, bills)?;
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new().mode(CheckoutSessionMode::Payment);
        let session = match customer {
            Some(c) => session.customer(c),
            None => session.customer_creation(CreateCheckoutSessionCustomerCreation::Always),
        };
        let session = session
            .client_reference_id(account.as_str())
            .line_items(items)
            .payment_intent_data(intent)
            .metadata(metadata)
            .success_url(success_url)
            .cancel_url(cancel_url)
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(classify)?;
        redirect(&session.id, session.url)
    }

    async fn billing_portal(&self, customer: &str, return_url: &str) -> Result<Redirect> {
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(classify)?;
        redirect(&session.id, Some(session.url))
    }

    async fn invoice(&self, id: &str) -> Result<ProcessorInvoice> {
        let inv = RetrieveInvoice::new(id).send(&self.client).await.map_err(classify)?;
        Ok(ProcessorInvoice {
            id: id.to_owned(),
            status: invoice_status(inv.status.as_ref()),
            amount_remaining: Money::from_minor(inv.amount_remaining, currency(&inv.currency)?),
        })
    }

    async fn pay_invoice(&self, id: &str, payment_method: &str, idempotency_key: &str) -> Result<PayOutcome> {
        let paid = PayInvoice::new(id)
            .payment_method(payment_method)
            .off_session(true)
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&self.client)
            .await;
        match paid {
            Ok(inv) => {
                Ok(PayOutcome::Paid { amount_paid: Money::from_minor(inv.amount_paid, currency(&inv.currency)?) })
            }
            // 402: the card was declined or needs the customer (Stripe's card errors).
            Err(stripe::StripeError::Stripe(api, 402)) => {
                if api.code == Some(stripe::ApiErrorsCode::AuthenticationRequired) {
                    let hosted = RetrieveInvoice::new(id).send(&self.client).await.map_err(classify)?;
                    Ok(PayOutcome::ActionRequired { url: hosted.hosted_invoice_url })
                } else {
                    Ok(PayOutcome::Declined { message: api.message.unwrap_or_else(|| "The card was declined.".into()) })
                }
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn set_default_payment_method(&self, customer: &str, payment_method: &str) -> Result<()> {
        let mut settings = UpdateCustomerInvoiceSettings::new();
        settings.default_payment_method = Some(payment_method.to_owned());
        UpdateCustomer::new(customer).invoice_settings(settings).send(&self.client).await.map_err(classify)?;
        Ok(())
    }

    async fn detach_payment_method(&self, payment_method: &str) -> Result<()> {
        DetachPaymentMethod::new(payment_method).send(&self.client).await.map_err(classify)?;
        Ok(())
    }

    async fn seat_item(&self, subscription_id: &str) -> Result<SeatItem> {
        let sub = RetrieveSubscription::new(subscription_id).send(&self.client).await.map_err(classify)?;
        let item = sub
            .items
            .data
            .iter()
            .find(|i| i.price.recurring.is_some())
            .ok_or_else(|| Error::Corrupt(format!("subscription {subscription_id} has no recurring item")))?;
        let interval = billing_stripe::interval(&item.price).unwrap_or(PlanInterval::Monthly);
        // A status this system does not know entitles nothing.
        let status = billing_stripe::subscription_status(&sub.status).unwrap_or(SubscriptionStatus::Unpaid);
        let quantity = i64::try_from(item.quantity.unwrap_or(1)).unwrap_or(i64::MAX);
        let unit_amount = billing_stripe::unit_amount(&item.price);
        Ok(SeatItem {
            subscription_id: subscription_id.to_owned(),
            item_id: item.id.as_str().to_owned(),
            customer_id: sub.customer.id().as_str().to_owned(),
            status,
            interval,
            quantity: SeatCount::try_from(quantity).map_err(|e| Error::Corrupt(e.to_string()))?,
            unit_amount,
            current_period_start: time(item.current_period_start),
            current_period_end: time(item.current_period_end),
        })
    }

    async fn preview_seat_change(&self, change: &SeatChange) -> Result<SeatPreview> {
        let mut item = CreatePreviewInvoiceSubscriptionDetailsItems::new();
        item.id = Some(change.item_id.clone());
        item.quantity = Some(u64::from(change.quantity.get()));
        let mut details = CreatePreviewInvoiceSubscriptionDetails::new();
        details.items = Some(vec![item]);
        details.proration_behavior = Some(CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::AlwaysInvoice);
        details.proration_date = Some(change.proration_date.timestamp());
        let inv = CreatePreviewInvoice::new()
            .customer(change.customer_id.as_str())
            .subscription(change.subscription_id.as_str())
            .subscription_details(details)
            .send(&self.client)
            .await
            .map_err(classify)?;
        let cur = currency(&inv.currency)?;
        let mut lines = Vec::new();
        let mut total = Money::zero(cur);
        for line in &inv.lines.data {
            let proration =
                line.parent.as_ref().and_then(|p| p.subscription_item_details.as_ref()).is_some_and(|d| d.proration);
            if !proration {
                continue;
            }
            let amount = Money::from_minor(line.amount, cur);
            total = total.checked_add(&amount).map_err(|e| Error::Corrupt(e.to_string()))?;
            lines.push(PreviewLine {
                description: line.description.clone().unwrap_or_default(),
                amount,
                period_start: time(line.period.start),
                period_end: time(line.period.end),
            });
        }
        Ok(SeatPreview { lines, amount_now: total })
    }

    async fn apply_seat_change(&self, change: &SeatChange, idempotency_key: &str) -> Result<()> {
        let mut item = UpdateSubscriptionItems::new();
        item.id = Some(change.item_id.clone());
        item.quantity = Some(u64::from(change.quantity.get()));
        UpdateSubscription::new(change.subscription_id.as_str())
            .items(vec![item])
            .proration_behavior(UpdateSubscriptionProrationBehavior::AlwaysInvoice)
            .proration_date(change.proration_date.timestamp())
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
