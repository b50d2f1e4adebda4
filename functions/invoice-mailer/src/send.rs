//! Building the MIME message and sending it: SES v2 `SendEmail` with raw content (the same bytes
//! the local outbox keeps as `.eml`), through the account's configuration set.
//!
//! SES v2 rather than v1: it is the current API, sends raw MIME and configuration sets in one
//! call, and is what new SES features land in; v1 would add nothing here.

use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use billing_domain::Email;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;

use crate::MailerError;
use crate::render::Rendered;

/// A mail ready to build: sender, one recipient, content, and a Message-ID derived from its send
/// key (so a receiving system can spot a duplicate too).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from_name: String,
    pub from_address: String,
    pub to: Email,
    pub rendered: Rendered,
    pub message_id: String,
    /// A file attached to the mail (the bill's PDF).
    pub attachment: Option<Attachment>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The RFC 5322 message: multipart/alternative, text then HTML, and the attachment if any
/// (multipart/mixed around them).
pub fn mime(o: &Outgoing) -> Result<Vec<u8>, MailerError> {
    let message = MessageBuilder::new()
        .from(Address::new_address(Some(o.from_name.as_str()), o.from_address.as_str()))
        .to(o.to.as_str())
        .subject(o.rendered.subject.as_str())
        .message_id(o.message_id.as_str())
        .date(chrono::Utc::now().timestamp())
        .text_body(o.rendered.text.as_str())
        .html_body(o.rendered.html.as_str());
    let message = match &o.attachment {
        Some(a) => message.attachment(a.content_type, a.filename.as_str(), a.bytes.as_slice()),
        None => message,
    };
    message.write_to_vec().map_err(|e| MailerError::Build(e.to_string()))
}

/// Sends a built message; returns the provider's message id.
#[async_trait]
pub trait MailSender: Send + Sync {
    async fn send(&self, from: &str, to: &Email, raw: &[u8]) -> Result<String, MailerError>;
}

pub struct Ses {
    client: aws_sdk_sesv2::Client,
    configuration_set: Option<String>,
}

impl Ses {
    pub fn new(config: &aws_config::SdkConfig, configuration_set: Option<String>) -> Self {
        Self { client: aws_sdk_sesv2::Client::new(config), configuration_set }
    }
}

#[async_trait]
impl MailSender for Ses {
    async fn send(&self, from: &str, to: &Email, raw: &[u8]) -> Result<String, MailerError> {
        let raw = RawMessage::builder().data(Blob::new(raw)).build().map_err(|e| MailerError::Build(e.to_string()))?;
        let out = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| MailerError::Send(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string()))?;
        out.message_id.ok_or_else(|| MailerError::Send("SES returned no message id".into()))
    }
}
