//! The bill run fanned out: the scheduled run hands the due accounts to workers through the
//! stand-in's SQS (the template's queue and dead-letter queue), three workers bill them side by
//! side, each with its own bill run (its own cached sequence), while batches crash after billing,
//! jobs come twice and two jobs can never be billed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bill_run::{BillRun, Mode, RunRequest, Settings};
use billing_aws::SqsBillJobs;
use billing_domain::bill_runs::BillJob;
use billing_domain::ports::BillJobQueue;
use chrono::Utc;
use integration_tests::Stack;

use crate::contract_billing::{catalog, cohort, import, invoices, line, months};

const ACCOUNTS: usize = 36;

#[tokio::test]
async fn workers_bill_every_account_once_with_gap_free_numbers_and_park_what_cannot_be_billed() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "fan", m1).await;
    let ids: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct_fan{i}")).collect();
    let lines: Vec<String> = ids.iter().map(|id| line(id, &id.replace('_', "-"), &[])).collect();
    import(&s, "fan", &lines).await;

    let sqs = aws_sdk_sqs::Client::new(&s.aws);
    let queues = devstack::jobs::create_from_template(&sqs, &s.table, Duration::from_secs(1)).await.unwrap();
    let queue = SqsBillJobs::new(sqs.clone(), &queues.jobs_url);
    let scheduler = BillRun::new(s.store(), Settings::default());
    let request = RunRequest { mode: Mode::Finalize, date: Some(m1), accounts: None, drafts_only: false };
    let now = Utc::now();

    let report = scheduler.dispatch(&queue, &request, now, None).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.dispatched, ACCOUNTS);
    // The next hour, with the jobs still queued, hands out nothing.
    let again = scheduler.dispatch(&queue, &request, now, None).await;
    assert_eq!((again.dispatched, again.backlog > 0), (0, true), "{again:?}");
    // A batch sent twice (a scheduler that retried), a job for an account that does not exist,
    // and a message that is not a job.
    let job = |account: &str| BillJob {
        account_id: account.parse().unwrap(),
        date: m1,
        mode: Mode::Finalize,
        drafts_only: false,
        dispatched_at: now,
    };
    let twice: Vec<BillJob> = ids[..12].iter().map(|id| job(id)).collect();
    queue.send(&twice).await.unwrap();
    queue.send(&[job("acct_nobody")]).await.unwrap();
    sqs.send_message().queue_url(&queues.jobs_url).message_body("{\"not\": \"a job\"}").send().await.unwrap();

    // Three workers, each its own bill run; the first three batches "crash" after billing
    // (their messages are not deleted and come back).
    let crashes = Arc::new(AtomicUsize::new(3));
    let stop = Arc::new(AtomicBool::new(true));
    let runs: Vec<Arc<BillRun<_>>> =
        (0..3).map(|_| Arc::new(BillRun::new(s.store(), Settings { concurrency: 4, ..Settings::default() }))).collect();
    let next = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (runs, crashes, next) = (runs.clone(), crashes.clone(), next.clone());
        move |event: aws_lambda_events::sqs::SqsEvent| {
            let run = runs[next.fetch_add(1, Ordering::SeqCst) % runs.len()].clone();
            let crashes = crashes.clone();
            async move {
                let ids: Vec<String> = event.records.iter().filter_map(|m| m.message_id.clone()).collect();
                let outcome = bill_run_worker::handle(&run, event, 4, Utc::now()).await;
                let crashed = crashes.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                if crashed { ids } else { outcome.failed }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), devstack::jobs::work(sqs.clone(), queues.clone(), 3, stop, handler))
        .await
        .expect("the workers drain the queue")
        .unwrap();
    assert_eq!(crashes.load(Ordering::SeqCst), 0, "the crashes happened");

    let all = invoices(&s).await;
    assert_eq!(all.len(), ACCOUNTS, "one invoice per account");
    let mut billed: Vec<&str> = all.iter().map(|i| i["account_id"].as_str().unwrap()).collect();
    billed.sort_unstable();
    billed.dedup();
    assert_eq!(billed.len(), ACCOUNTS);
    let numbers: Vec<&str> = all.iter().map(|i| i["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, (1..=ACCOUNTS).map(|n| format!("INV-{n:06}")).collect::<Vec<_>>(), "gap-free, each once");
    assert_eq!(s.items_of("work_item").await.len(), ACCOUNTS, "one bill mail each");

    // The two jobs no worker can bill were tried maxReceiveCount times, then parked.
    let parked = devstack::jobs::bodies(&sqs, &queues.dead_letters_url).await.unwrap();
    assert_eq!(parked.len(), 2, "{parked:?}");
    assert!(parked.iter().any(|b| b.contains("acct_nobody")) && parked.iter().any(|b| b.contains("not")), "{parked:?}");
    assert_eq!(devstack::jobs::backlog(&sqs, &queues.jobs_url).await.unwrap(), 0);

    // The queue drained: the next hour's run hands out what is still due, which is nothing.
    let after = scheduler.dispatch(&queue, &request, Utc::now(), None).await;
    assert_eq!((after.dispatched, after.backlog), (0, 0), "{after:?}");
}

#[tokio::test]
async fn a_worker_whose_number_was_taken_meanwhile_takes_the_next_without_rating_again() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "seq", m1).await;
    let lines: Vec<String> = ["acct_seqa", "acct_seqb", "acct_seqc"].iter().map(|id| line(id, id, &[])).collect();
    import(&s, "seq", &lines).await;
    let one = BillRun::new(s.store(), Settings::default());
    let two = BillRun::new(s.store(), Settings::default());
    let only = |id: &str| RunRequest {
        mode: Mode::Finalize,
        date: Some(m1),
        accounts: Some(vec![id.parse().unwrap()]),
        drafts_only: false,
    };
    let now = Utc::now();
    // `one` takes 1 and remembers it; `two` takes 2; `one`'s next bill finds its number gone.
    for (run, id) in [(&one, "acct_seqa"), (&two, "acct_seqb"), (&one, "acct_seqc")] {
        let report = run.run(&only(id), now, None).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.results.len(), 1);
    }
    assert_eq!((one.numbers_lost(), two.numbers_lost()), (1, 0));
    let numbered: Vec<(String, String)> = invoices(&s)
        .await
        .iter()
        .map(|i| (i["number"].as_str().unwrap().to_owned(), i["account_id"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("INV-000001", "acct_seqa"), ("INV-000002", "acct_seqb"), ("INV-000003", "acct_seqc")];
    assert_eq!(numbered, expected.map(|(n, a)| (n.to_owned(), a.to_owned())));
}
