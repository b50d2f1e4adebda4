//! The invoice mailer against the stand-in's table and SES: every bill once per recipient
//! (de-duplicated, minus suppressed addresses), redelivered batches sending nothing again, a
//! failed send reported for retry with its claim given back, and SES feedback suppressing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use billing_domain::ports::Suppressions;
use billing_domain::{Address, AddressInput, Email, RemitTo};
use devstack::moto::sent_raw_messages;
use http::StatusCode;
use integration_tests::stripe::{sample, sign};
use integration_tests::{Stack, User, new_account};
use invoice_mailer::render::Brand;
use invoice_mailer::send::{MailSender, Ses};
use invoice_mailer::{MailSettings, Mailer, MailerError};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_mailer";
pub const FROM: &str = "billing@seller.example";

pub fn settings() -> MailSettings {
    let address = Address::parse(AddressInput {
        line1: "PO Box 77",
        line2: Some("Lockbox 9"),
        city: "Chicago",
        region: Some("IL"),
        postal_code: Some("60601"),
        country: "US",
    })
    .unwrap();
    MailSettings {
        brand: Brand {
            seller: "Seller Hosting".into(),
            portal_url: "https://portal.example".into(),
            remit_to: Some(RemitTo { name: "Seller Hosting AR".into(), address }),
            scan_check_digit: Default::default(),
        },
        from_name: "Seller Hosting".into(),
        from_address: FROM.into(),
        send_lease_secs: invoice_mailer::SEND_LEASE_SECS,
    }
}

/// Fails while `failing` is set, as SES does when throttling or down.
struct Flaky<S> {
    inner: S,
    failing: Arc<AtomicBool>,
}

#[async_trait]
impl<S: MailSender> MailSender for Flaky<S> {
    async fn send(&self, from: &str, to: &Email, raw: &[u8]) -> Result<String, MailerError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(MailerError::Send("injected: SES is throttling".into()));
        }
        self.inner.send(from, to, raw).await
    }
}

/// An account (its own addresses, so this test's mails are told apart in the shared stand-in)
/// with a finalized bill and the webhook's `bill_ready` work item.
async fn account_with_a_bill(s: &Stack, tag: &str) -> String {
    let admin = User::new(&format!("mail-admin-{tag}")).with_email(&format!("owner@{tag}.example"));
    let mut body = new_account("Mail Co");
    body["billing_contact"]["email"] = json!(format!("ap@{tag}.example"));
    let r = s.call(&admin, "POST", "/v1/accounts", Some(body)).await;
    let acct = r.body["id"].as_str().unwrap().to_owned();
    let recipients = json!({"recipients": [format!("AP@{tag}.example"), format!("cfo@{tag}.example"), format!("bounced@{tag}.example")]});
    assert_eq!(
        s.call(&admin, "PUT", &format!("/v1/accounts/{acct}/bill-recipients"), Some(recipients)).await.status,
        StatusCode::OK
    );
    let event = sample("invoice.finalized.json").to_string().replace("acct_demo", &acct);
    let webhook = s.webhook(&[SECRET]);
    let r = s.deliver(&webhook, &event, Some(&sign(&event, SECRET, None))).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}), "{:?}", r.body);
    acct
}

pub fn sent_to(s: &Stack, tag: &str) -> Vec<Value> {
    sent_raw_messages(&s.endpoint)
        .unwrap()
        .into_iter()
        .filter(|m| {
            m["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d.as_str().unwrap().ends_with(&format!("@{tag}.example")))
        })
        .collect()
}

#[tokio::test]
async fn a_bill_goes_once_to_each_recipient_even_when_its_batch_comes_twice() {
    let s = Stack::new().await;
    let tag = "mail-once";
    let acct = account_with_a_bill(&s, tag).await;
    s.store().suppress(&format!("bounced@{tag}.example").parse().unwrap(), "bounce", chrono::Utc::now()).await.unwrap();
    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings());

    let batch = s.stream_of("work_item").await;
    assert_eq!(batch.records.len(), 1);
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty(), "redelivered");

    let sent = sent_to(&s, tag);
    let mut to: Vec<&str> = sent.iter().map(|m| m["destinations"][0].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(
        to,
        [format!("ap@{tag}.example"), format!("cfo@{tag}.example")],
        "contact once (AP@ is the same mailbox), no suppressed address"
    );
    // The content is covered by the renderer's snapshot tests; here, that it went out whole.
    let raw = sent[0]["raw_data"].as_str().unwrap();
    for needle in
        ["<billing@seller.example>", "Message-ID: <bill_ready.", "multipart/alternative", "text/plain", "text/html"]
    {
        assert!(raw.contains(needle), "the bill mail has {needle:?}");
    }
    let sends = s.items_of("mail_send").await;
    assert!(sends.iter().all(|m| m["status"] == "sent" && m["subject"] == "in_DemoFirst0000001"), "{sends:?}");
    assert!(!acct.is_empty());
}

#[tokio::test]
async fn a_failed_send_is_reported_for_retry_and_nothing_is_lost() {
    let s = Stack::new().await;
    let tag = "mail-retry";
    account_with_a_bill(&s, tag).await;
    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let failing = Arc::new(AtomicBool::new(true));
    let mailer = Mailer::new(s.store(), Flaky { inner: Ses::new(&s.aws, None), failing: failing.clone() }, settings());

    let batch = s.stream_of("work_item").await;
    let response = mailer.handle(batch.clone()).await;
    assert_eq!(
        response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect::<Vec<_>>(),
        [batch.records[0].change.sequence_number.clone()],
        "the record is reported, so Lambda retries it"
    );
    assert!(s.items_of("mail_send").await.is_empty(), "the claim was given back");
    assert!(sent_to(&s, tag).is_empty());

    failing.store(false, Ordering::SeqCst);
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty());
    assert_eq!(sent_to(&s, tag).len(), 3, "contact, cfo and the not-suppressed bounced@ address");
    assert!(s.items_of("mail_send").await.iter().all(|m| m["status"] == "sent"));
}

#[tokio::test]
async fn ses_bounces_and_complaints_suppress_the_address() {
    let s = Stack::new().await;
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings());
    let notification = |message: Value| {
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:feedback:1",
            "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:feedback",
                "Subject": null, "Message": message.to_string(), "Timestamp": "2026-11-23T00:00:00.000Z",
                "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://sns.example/cert.pem",
                "UnsubscribeUrl": "https://sns.example/unsub", "MessageAttributes": {}}}]})
    };
    let bounce = json!({"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "Gone@Bounce.example"}]}});
    let transient = json!({"eventType": "Bounce", "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "full@bounce.example"}]}});
    let complaint = json!({"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "angry@bounce.example"}]}});
    for n in [bounce, transient, complaint] {
        invoice_mailer::dispatch(&mailer, notification(n)).await.unwrap();
    }
    let mut suppressed: Vec<String> =
        s.items_of("suppressed_email").await.iter().map(|i| i["email"].as_str().unwrap().to_owned()).collect();
    suppressed.sort();
    assert_eq!(suppressed, ["angry@bounce.example", "gone@bounce.example"], "a transient bounce is not suppressed");
}

#[tokio::test]
async fn an_invitation_is_mailed_to_the_invitee_once() {
    let s = Stack::new().await;
    let tag = "mail-invite";
    let admin = User::new("invite-admin").with_email(&format!("owner@{tag}.example"));
    let acct = s.account_of(&admin, "Invite Co").await;
    assert_eq!(
        s.invite(&admin, &acct, &format!("new.person@{tag}.example"), "billing").await.status,
        StatusCode::CREATED
    );
    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings());
    let batch = s.stream_of("work_item").await;
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty());
    let sent = sent_to(&s, tag);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["destinations"][0], format!("new.person@{tag}.example"));
}
