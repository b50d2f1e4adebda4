//! What a person reads, made from the domain's types: the bill, credit-note, reminder and notice
//! mails (askama, HTML escaped + plain text), the bill and credit-note PDFs with their payment
//! stub, and the statement of account PDF. The mailer sends them; the portal serves the PDFs it
//! makes on request (a statement for any period).

pub mod format;
pub mod pdf;
pub mod render;
