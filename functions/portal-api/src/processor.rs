//! What the portal asks of the payment processor, as a trait in the domain's terms: the adapter
//! ([`crate::stripe_client`]) speaks Stripe; tests and the local stack point it at the fake Stripe
//! server. Cards never reach this system: Checkout, the customer portal and Stripe's saved
//! methods handle them.
//!
//! Errors are the domain's: `NotFound` (no such object at the processor), `Invalid` (the
//! processor refused a parameter), `Conflict` (an idempotency key reused with other parameters),
//! `Unavailable` (anything a retry can fix).

use async_trait::async_trait;
use billing_domain::billing::{PlanInterval, SeatCount, SubscriptionStatus};
use billing_domain::invoice::InvoiceStatus;
use billing_domain::{AccountId, Email, Money, Result};
use chrono::{DateTime, Utc};

/// A page at the processor the user is sent to (Checkout, the customer portal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub id: String,
    pub url: String,
}

/// A Checkout Session that starts a seat subscription for an account.
#[derive(Debug, Clone)]
pub struct SeatCheckout {
    pub account: AccountId,
    /// The account's customer if it has one; else Checkout creates it (and the webhook links it).
    pub customer: Option<String>,
    pub customer_email: Option<Email>,
    pub price_id: String,
    pub quantity: SeatCount,
    pub max_quantity: u32,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: String,
    /// The seller has the processor work out tax (Stripe Tax): Checkout collects the address
    /// and tax ID it needs; the subscription's invoices carry the tax.
    pub automatic_tax: bool,
}

/// One invoice to pay in a payment-mode Checkout Session.
#[derive(Debug, Clone)]
pub struct InvoiceCharge {
    pub invoice_id: String,
    pub description: String,
    pub amount: Money,
    /// Our own contract bill (not a processor invoice): the webhook records the payment against
    /// it instead of settling an invoice at the processor.
    pub contract: bool,
}

/// An invoice as the processor holds it now (to re-check what we would charge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorInvoice {
    pub id: String,
    pub status: InvoiceStatus,
    pub amount_remaining: Money,
}

/// What became of paying an invoice with a saved method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    Paid {
        amount_paid: Money,
    },
    /// The card was declined; the message is the processor's, meant for the customer.
    Declined {
        message: String,
    },
    /// The bank asks the customer to authenticate (3-D Secure): finish on the hosted page.
    ActionRequired {
        url: Option<String>,
    },
}

/// The subscription item that carries an account's seats, as the processor holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatItem {
    pub subscription_id: String,
    pub item_id: String,
    pub customer_id: String,
    pub status: SubscriptionStatus,
    pub interval: PlanInterval,
    pub quantity: SeatCount,
    pub unit_amount: Option<Money>,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
}

/// A change of the seat quantity at a fixed proration date.
#[derive(Debug, Clone)]
pub struct SeatChange {
    pub subscription_id: String,
    pub item_id: String,
    pub customer_id: String,
    pub quantity: SeatCount,
    pub proration_date: DateTime<Utc>,
}

/// One line of a previewed proration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewLine {
    pub description: String,
    pub amount: Money,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

/// What a seat change would invoice now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatPreview {
    /// The proration lines (credit for unused time, charge for the remaining time).
    pub lines: Vec<PreviewLine>,
    /// Their sum: what the change invoices now (negative: a credit).
    pub amount_now: Money,
}

#[async_trait]
pub trait PaymentProcessor: Send + Sync {
    async fn seat_checkout(&self, checkout: &SeatCheckout) -> Result<Redirect>;
    /// Checkout in setup mode: the customer saves a payment method for later payments.
    async fn setup_checkout(
        &self,
        account: &AccountId,
        customer: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<Redirect>;
    /// Checkout in payment mode for open invoices; the webhook settles them when it completes.
    /// Without a customer (a contract account paying its first bill by card), Checkout creates
    /// one, and the webhook links it to the account.
    async fn invoice_checkout(
        &self,
        account: &AccountId,
        customer: Option<&str>,
        charges: &[InvoiceCharge],
        success_url: &str,
        cancel_url: &str,
        idempotency_key: &str,
    ) -> Result<Redirect>;
    /// The processor's customer portal (receipts, invoice history, cards).
    async fn billing_portal(&self, customer: &str, return_url: &str) -> Result<Redirect>;
    async fn invoice(&self, id: &str) -> Result<ProcessorInvoice>;
    async fn pay_invoice(&self, id: &str, payment_method: &str, idempotency_key: &str) -> Result<PayOutcome>;
    async fn set_default_payment_method(&self, customer: &str, payment_method: &str) -> Result<()>;
    async fn detach_payment_method(&self, payment_method: &str) -> Result<()>;
    async fn seat_item(&self, subscription_id: &str) -> Result<SeatItem>;
    async fn preview_seat_change(&self, change: &SeatChange) -> Result<SeatPreview>;
    /// Applies the change with the same proration date as its preview, invoicing the proration
    /// at once (`always_invoice`), under `idempotency_key` so a retry never charges twice.
    async fn apply_seat_change(&self, change: &SeatChange, idempotency_key: &str) -> Result<()>;
}
