//! Response bodies: what the API shows of domain values.

use billing_domain::billing::{PlanInterval, SeatCount, Subscription, SubscriptionStatus};
use billing_domain::invoice::{ChargeKind, Invoice, InvoiceStatus, ServicePeriod};
use billing_domain::{
    Account, Address, BillingContact, BillingMode, Currency, Email, Member, MemberStatus, Money, RemitTo, Role,
    proration,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub billing_mode: BillingMode,
    pub currency: Currency,
    pub billing_contact: BillingContact,
    pub billing_address: Address,
    /// The seller's address for mailed payments; null until the seller configures it.
    pub remit_to: Option<RemitTo>,
    pub balance_due: Money,
    pub bill_recipients: Vec<Email>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountView {
    pub fn new(a: Account, remit_to: Option<RemitTo>) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name,
            billing_mode: a.billing_mode,
            currency: a.currency,
            billing_contact: a.billing_contact,
            billing_address: a.billing_address,
            remit_to,
            balance_due: a.balance_due,
            bill_recipients: a.bill_recipients.into(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// The account as `GET /v1/accounts/{account_id}` shows it: the profile, and what is past due.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDetailView {
    #[serde(flatten)]
    pub account: AccountView,
    /// The bills not paid by their due date: the oldest due date, the days since, the amount left
    /// on them; null when nothing is past due.
    pub past_due: Option<billing_domain::receivables::PastDue>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: Email,
    pub role: Role,
    pub status: MemberStatus,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<DateTime<Utc>>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        Self {
            id: m.id.to_string(),
            email: m.email,
            role: m.role,
            status: m.status,
            created_at: m.created_at,
            activated_at: m.activated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecipientsView {
    pub recipients: Vec<Email>,
}

/// An invoice in a list: its numbers without its lines.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceSummaryView {
    pub id: String,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub currency: Currency,
    pub total: Money,
    pub amount_due: Money,
    pub amount_paid: Money,
    pub amount_remaining: Money,
    pub created: DateTime<Utc>,
    pub due_date: Option<DateTime<Utc>>,
    /// The invoice's own period (a contract bill's usage period); people read `service_period`.
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// The service the invoice's lines cover, from the earliest line's start to the latest
    /// line's end (a contract bill charges December in advance beside November's usage: Nov 1 –
    /// Dec 31).
    pub service_period: PeriodView,
    #[schema(format = "uri")]
    pub hosted_invoice_url: Option<String>,
    #[schema(format = "uri")]
    pub pdf_url: Option<String>,
}

impl From<&Invoice> for InvoiceSummaryView {
    fn from(i: &Invoice) -> Self {
        Self {
            id: i.id.clone(),
            number: i.number.clone(),
            status: i.status,
            currency: i.currency,
            total: i.total,
            amount_due: i.amount_due,
            amount_paid: i.amount_paid,
            amount_remaining: i.amount_remaining,
            created: i.created,
            due_date: i.due_date,
            period_start: i.period_start,
            period_end: i.period_end,
            service_period: PeriodView::from(&i.service_span()),
            hosted_invoice_url: i.hosted_invoice_url.clone(),
            pdf_url: i.pdf_url.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceListView {
    pub invoices: Vec<InvoiceSummaryView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineView {
    pub id: String,
    pub description: String,
    pub kind: ChargeKind,
    pub quantity: Option<u64>,
    pub unit_amount: Option<Money>,
    pub amount: Money,
    pub service_period: ServicePeriodView,
    /// What the line was taxed at (contract bills; empty when no tax applies).
    pub taxes: Vec<billing_domain::tax::AppliedTax>,
}

/// The lines of one logical element (product, site, subscription) and their subtotal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineGroupView {
    pub name: String,
    pub subtotal: Money,
    pub lines: Vec<LineView>,
}

/// An invoice with its lines grouped by logical element, in the order they first appear.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    pub summary: InvoiceSummaryView,
    /// Net of tax.
    pub subtotal: Money,
    pub tax: Money,
    /// The tax per (code, rate) with its taxable base (contract bills; empty when none was
    /// worked out here, as on card invoices, whose tax is Stripe's `tax`).
    pub taxes: Vec<billing_domain::tax::TaxGroup>,
    /// "Customer is tax exempt: …", "Reverse charge: …", the VAT numbers: sentences the bill prints.
    pub tax_notes: Vec<String>,
    pub groups: Vec<LineGroupView>,
    /// False while lines beyond the processor's first page are still being fetched.
    pub lines_complete: bool,
    /// A contract bill's account summary as of its cut-off: previous balance, payments, credits,
    /// balance forward, this bill's charges, the total due (what its stub asks for); null on
    /// card invoices.
    pub account_summary: Option<billing_domain::ledger::AccountSummary>,
}

impl InvoiceView {
    pub fn new(i: &Invoice) -> Result<Self, billing_domain::Error> {
        let mut groups: Vec<LineGroupView> = Vec::new();
        for l in &i.lines {
            let line = LineView {
                id: l.id.clone(),
                description: l.description.clone(),
                kind: l.kind,
                quantity: l.quantity,
                unit_amount: l.unit_amount,
                amount: l.amount,
                service_period: ServicePeriodView { period: PeriodView::from(&l.period), partial: l.period.partial },
                taxes: l.taxes.clone(),
            };
            let group = match groups.iter_mut().find(|g| g.name == l.group) {
                Some(g) => g,
                None => {
                    groups.push(LineGroupView {
                        name: l.group.clone(),
                        subtotal: Money::zero(i.currency),
                        lines: vec![],
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            group.subtotal = group
                .subtotal
                .checked_add(&l.amount)
                .map_err(|e| billing_domain::Error::Corrupt(format!("invoice {}: {e}", i.id)))?;
            group.lines.push(line);
        }
        Ok(Self {
            summary: InvoiceSummaryView::from(i),
            subtotal: i.subtotal,
            tax: i.tax,
            taxes: i.tax_detail.groups.clone(),
            tax_notes: i.tax_detail.notes(),
            groups,
            lines_complete: i.lines_complete,
            account_summary: i.account_summary,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatementView {
    pub balance_due: Money,
    /// The newest issued (not draft) invoice, itemized; null before the first bill.
    pub latest_invoice: Option<InvoiceView>,
    /// Open invoices with something left to pay, newest first.
    pub open_invoices: Vec<InvoiceSummaryView>,
    /// The open invoices not paid by their due date: the oldest due date, the days since, the
    /// amount left on them; null when nothing is past due.
    pub past_due: Option<billing_domain::receivables::PastDue>,
    /// The statement of account for `from`..`to`: opening balance, a row per bill, payment,
    /// credit note and void with the running balance, closing balance, open bills and aging at
    /// `to`.
    #[serde(flatten)]
    pub activity: billing_domain::statement::Statement,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentMethodView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
    pub default: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentMethodsView {
    pub payment_methods: Vec<PaymentMethodView>,
}

/// A page at the processor to send the user to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedirectView {
    pub id: String,
    #[schema(format = "uri")]
    pub url: String,
}

/// A period of service. `start` and `end` are its bounds as stored, `end` exclusive (where the
/// next period starts); `first_day` and `last_day` are the days it covers, both inclusive (UTC):
/// what to show a person. A month stored as Dec 1 – Jan 1 reads Dec 1 – Dec 31.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl PeriodView {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self::from(&ServicePeriod { start, end, partial: false })
    }
}

impl From<&ServicePeriod> for PeriodView {
    fn from(p: &ServicePeriod) -> Self {
        Self { start: p.start, end: p.end, first_day: p.first_day(), last_day: p.last_day() }
    }
}

/// An invoice line's period of service; `partial` marks a line covering only part of its
/// billing period (a proration).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServicePeriodView {
    #[serde(flatten)]
    pub period: PeriodView,
    pub partial: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    /// The processor's price id of the seat plan.
    pub plan: String,
    pub interval: PlanInterval,
    pub seats: SeatCount,
    pub status: SubscriptionStatus,
    pub current_period: PeriodView,
    pub cancel_at_period_end: bool,
    pub unit_amount: Option<Money>,
    /// What the next period will cost at today's seats; null when it will not renew or the price
    /// is not a flat per-seat amount.
    pub next_renewal_amount: Option<Money>,
    pub next_renewal_at: Option<DateTime<Utc>>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        let renews = !s.cancel_at_period_end && s.status.entitles();
        Self {
            id: s.id.clone(),
            plan: s.price_id.clone(),
            interval: s.interval,
            seats: s.seats,
            status: s.status,
            current_period: PeriodView::new(s.current_period_start, s.current_period_end),
            cancel_at_period_end: s.cancel_at_period_end,
            unit_amount: s.unit_amount,
            next_renewal_amount: s.unit_amount.filter(|_| renews).map(|u| proration::renewal(u, s.seats)),
            next_renewal_at: renews.then_some(s.current_period_end),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewLineView {
    pub description: String,
    pub amount: Money,
    pub service_period: PeriodView,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatPreviewView {
    pub subscription_id: String,
    pub interval: PlanInterval,
    pub current_quantity: SeatCount,
    pub quantity: SeatCount,
    /// Pass this back unchanged to `PUT .../subscription/seats` to be charged exactly `amount_now`.
    pub proration_date: DateTime<Utc>,
    /// Invoiced (and charged to the default payment method) when the change is applied; negative
    /// amounts become account credit.
    pub amount_now: Money,
    pub lines: Vec<PreviewLineView>,
    pub new_renewal_amount: Option<Money>,
    pub next_renewal_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatChangeView {
    pub subscription_id: String,
    pub quantity: SeatCount,
    pub proration_date: DateTime<Utc>,
    /// `pending` until the processor's events update the subscription here.
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PaymentResultView {
    Paid {
        invoice_id: String,
        amount_paid: Money,
    },
    Declined {
        invoice_id: String,
        message: String,
    },
    ActionRequired {
        invoice_id: String,
        url: Option<String>,
    },
    /// Paid already (by an earlier attempt of this request, or elsewhere): not charged again.
    AlreadyPaid {
        invoice_id: String,
    },
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PaymentView {
    /// Charged to the default payment method: one result per invoice.
    SavedMethod { payment_method_id: String, total: Money, results: Vec<PaymentResultView> },
    /// Send the user to this Checkout page; invoices are settled when it completes.
    Checkout { session_id: String, url: String, total: Money, invoice_ids: Vec<String> },
}

/// Where a bill's PDF is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PdfLinkView {
    #[schema(format = "uri")]
    pub url: String,
    /// When a link to a stored PDF stops working (null: the processor's own link).
    pub expires_at: Option<DateTime<Utc>>,
}

/// One usage item's usage so far in the open billing period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageItemView {
    /// The contract item.
    pub item_id: String,
    /// The metric its usage is reported under (`bandwidth_gb`).
    #[schema(value_type = String)]
    pub metric: billing_domain::catalog::Metric,
    /// What the bill calls it.
    pub description: String,
    /// The site or service the bill groups it under.
    pub group: String,
    /// The unit a quantity counts (`GB`), when the price names one.
    pub unit: Option<String>,
    /// The billing period (within the item's own start and end).
    pub period: PeriodView,
    /// Units used so far in the period.
    pub quantity: u64,
    /// Units the price includes at no charge each period.
    pub included: u64,
    /// Units used beyond the included ones.
    pub beyond_included: u64,
    /// What the usage so far costs, rated as the bill will rate it.
    pub estimated_amount: Money,
}

/// Usage so far in the open billing period of an account billed by contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    /// The open billing period.
    pub period: PeriodView,
    /// The bill that will charge this period's usage.
    pub bill_date: NaiveDate,
    pub items: Vec<UsageItemView>,
    pub estimated_total: Money,
    /// When this was read: every usage record accepted before then is counted.
    pub as_of: DateTime<Utc>,
    pub note: String,
}

/// The account's next bill as the bill run would make it now: an estimate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpcomingBillView {
    /// Always true: the bill is made on `bill_date` from the contract and the usage as they stand
    /// then.
    pub estimate: bool,
    pub note: String,
    /// The date the bill will be made.
    pub bill_date: NaiveDate,
    /// Account credit the bill will use when it is made (up to its total).
    pub credit_available: Money,
    /// Usage records no contract item prices: left out of the bill.
    pub unrated_usage: usize,
    /// The bill: its number and final due date come when it is made; `status` is `draft`.
    pub invoice: InvoiceView,
}
