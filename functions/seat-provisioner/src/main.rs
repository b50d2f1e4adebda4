//! Lambda entry point: wiring only. Clients are built once per cold start.

use aws_lambda_events::event::dynamodb::Event;
use billing_aws::{DynamoStore, config, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use seat_provisioner::Provisioner;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let aws = config::load_aws().await;
    let provisioner = Provisioner::new(DynamoStore::from_config(&aws, table));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let provisioner = provisioner.clone();
        async move { Ok::<_, Error>(provisioner.handle(event.payload).await) }
    }))
    .await
}
