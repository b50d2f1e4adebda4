//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::{DynamoStore, S3Documents, config, telemetry};
use invoice_mailer::render::Brand;
use invoice_mailer::send::Ses;
use invoice_mailer::{MailSettings, Mailer};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let settings = MailSettings {
        brand: Brand {
            seller: config::required("SELLER_NAME")?,
            portal_url: config::required("PORTAL_URL")?.trim_end_matches('/').to_owned(),
            remit_to: config::remit_to_from_env()?,
            scan_check_digit: config::check_digit_from_env()?,
        },
        from_name: config::required("SELLER_NAME")?,
        from_address: config::required("MAIL_FROM")?,
        send_lease_secs: invoice_mailer::SEND_LEASE_SECS,
    };
    let aws = config::load_aws().await;
    let mailer = Mailer::new(
        DynamoStore::from_config(&aws, table),
        Ses::new(&aws, config::optional("SES_CONFIGURATION_SET")),
        settings,
    )
    .with_documents(S3Documents::from_config(&aws, config::required("BILL_DOCUMENTS_BUCKET")?));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let mailer = mailer.clone();
        async move { invoice_mailer::dispatch(&mailer, event.payload).await }
    }))
    .await
}
