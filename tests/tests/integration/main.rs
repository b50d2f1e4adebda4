//! The functions driven as AWS drives them, against the local AWS stand-in. One test binary
//! (one link, one stand-in process) with a fresh table per test.

mod accounts;
mod bill_run_workers;
mod billing_profile;
mod charges;
mod contract_billing;
mod failures;
mod invoices;
mod local_gateway;
mod lockbox;
mod mailer;
mod members;
mod parked;
mod parsers;
mod payment_methods;
mod payments;
mod provisioner;
mod recovery;
mod refetch;
mod sample_events;
mod seats;
mod staff;
mod statements;
mod storm;
mod tenancy;
mod webhook;
