//! BAI2 (the BAI Cash Management Balance Reporting Specification, version 2): the bank's daily
//! report of the seller's accounts, which carries what the lockbox file does not: the **deposit
//! totals** the bank credited (type 115, lockbox deposit) and the **returned items** it debited
//! (type 555, deposited item returned: a check that bounced).
//!
//! Records are comma-delimited and end with `/`: 01 file header, 02 group header, 03 account
//! identifier (with its summaries), 16 transaction detail, 88 continuation, 49 account trailer,
//! 98 group trailer, 99 file trailer. Amounts are whole minor units of the currency (the 03's, or
//! the 02's, or USD), signed when negative. [`parse`] verifies every trailer: an account's control
//! total is the sum of its 03 and 16 amounts and its record count runs from its 03 to its 49
//! (continuations included); a group's total is the sum of its accounts', with their count and
//! its records (02 to 98); the file's the sum of its groups' (01 to 99). A file that does not add
//! up is refused whole with the line and why, as the lockbox file is.
//!
//! A 16 record's text is the rest of the record (commas and slashes included) and of its 88
//! continuations; a record without text ends with `,/`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ledger::ReturnReason;
use crate::lockbox::FileError;
use crate::money::{Currency, Money};

/// Type 115: lockbox deposit (a credit).
pub const LOCKBOX_DEPOSIT: &str = "115";
/// Type 555: deposited item returned (a debit).
pub const DEPOSITED_ITEM_RETURNED: &str = "555";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bai2File {
    pub sender: String,
    pub receiver: String,
    pub created: NaiveDate,
    pub file_id: String,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub originator: String,
    pub as_of: NaiveDate,
    pub accounts: Vec<Bai2Account>,
}

/// One of the seller's bank accounts in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bai2Account {
    pub number: String,
    pub currency: Currency,
    /// The 03's (type code, amount) summaries and status values.
    pub summaries: Vec<(String, Option<Money>)>,
    pub details: Vec<Detail>,
}

/// A transaction detail (record 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub type_code: String,
    pub amount: Money,
    pub bank_reference: String,
    pub customer_reference: String,
    pub text: String,
    /// The 16 record's line in the file (1-based).
    pub line: usize,
}

/// A deposit the bank credited to the seller's account from its lockbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deposit {
    pub bank_account: String,
    pub as_of: NaiveDate,
    pub amount: Money,
    pub bank_reference: String,
    pub customer_reference: String,
}

/// A check the bank took back from the seller's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnedItem {
    pub bank_account: String,
    pub as_of: NaiveDate,
    pub amount: Money,
    /// The returned check's serial number (the detail's customer reference).
    pub check_number: String,
    pub bank_reference: String,
    pub reason: ReturnReason,
    pub text: String,
    pub line: usize,
}

impl Bai2File {
    /// The lockbox deposits (type 115) of every account, in file order.
    pub fn deposits(&self) -> Vec<Deposit> {
        self.details(LOCKBOX_DEPOSIT)
            .map(|(g, a, d)| Deposit {
                bank_account: a.number.clone(),
                as_of: g.as_of,
                amount: d.amount,
                bank_reference: d.bank_reference.clone(),
                customer_reference: d.customer_reference.clone(),
            })
            .collect()
    }

    /// The returned items (type 555) of every account, in file order.
    pub fn returned_items(&self) -> Vec<ReturnedItem> {
        self.details(DEPOSITED_ITEM_RETURNED)
            .map(|(g, a, d)| ReturnedItem {
                bank_account: a.number.clone(),
                as_of: g.as_of,
                amount: d.amount,
                check_number: d.customer_reference.trim_start_matches('0').to_owned(),
                bank_reference: d.bank_reference.clone(),
                reason: return_reason(&d.text),
                text: d.text.clone(),
                line: d.line,
            })
            .collect()
    }

    fn details<'a>(&'a self, code: &'a str) -> impl Iterator<Item = (&'a Group, &'a Bai2Account, &'a Detail)> + 'a {
        self.groups.iter().flat_map(move |g| {
            g.accounts
                .iter()
                .flat_map(move |a| a.details.iter().filter(move |d| d.type_code == code).map(move |d| (g, a, d)))
        })
    }
}

/// The reason a returned item's text gives (banks write `NSF`, `INSUFFICIENT FUNDS`,
/// `STOP PAYMENT`, `ACCOUNT CLOSED`; anything else is `other`).
pub fn return_reason(text: &str) -> ReturnReason {
    let t = text.to_ascii_uppercase();
    let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if words.contains(&"NSF") || t.contains("INSUFFICIENT") || t.contains("NOT SUFFICIENT") {
        ReturnReason::InsufficientFunds
    } else if t.contains("STOP") {
        ReturnReason::StopPayment
    } else if t.contains("CLOSED") {
        ReturnReason::AccountClosed
    } else {
        ReturnReason::Other
    }
}

/// Whether a file is BAI2 (its first record is a 01 file header with commas) rather than the
/// fixed-width lockbox transmission.
pub fn is_bai2(file: &str) -> bool {
    file.trim_start_matches('\u{feff}').trim_start().starts_with("01,")
}

fn refuse(line: usize, reason: impl Into<String>) -> FileError {
    FileError { line, reason: reason.into() }
}

/// One logical record: its fields, the line it starts on and how many physical records (88
/// continuations included) it took.
struct Record {
    code: String,
    fields: Vec<String>,
    /// A 16's text: the rest after its sixth field (and the continuations').
    text: String,
    line: usize,
    physical: usize,
}

fn date(raw: &str, line: usize, what: &str) -> Result<NaiveDate, FileError> {
    NaiveDate::parse_from_str(raw, "%y%m%d").map_err(|_| refuse(line, format!("{what} `{raw}` is not a date (YYMMDD)")))
}

fn signed(raw: &str, line: usize, what: &str) -> Result<i64, FileError> {
    let ok = !raw.is_empty()
        && raw.len() <= 19
        && raw.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_digit())
        && raw.trim_start_matches(['+', '-']).len() + 1 >= raw.len();
    raw.trim_start_matches('+')
        .parse::<i64>()
        .ok()
        .filter(|_| ok)
        .ok_or_else(|| refuse(line, format!("{what} `{raw}` is not a whole number")))
}

fn count(raw: &str, line: usize, what: &str) -> Result<usize, FileError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(line, format!("{what} `{raw}` is not a count")));
    }
    raw.parse().map_err(|_| refuse(line, format!("{what} `{raw}` is not a count")))
}

fn currency(raw: &str, line: usize, fallback: Currency) -> Result<Currency, FileError> {
    if raw.is_empty() {
        Ok(fallback)
    } else {
        raw.parse().map_err(|_| refuse(line, format!("currency `{raw}` is not one we know")))
    }
}

/// Splits the file into logical records, joining each 88 to the record before it.
fn records(file: &str) -> Result<Vec<Record>, FileError> {
    let mut out: Vec<Record> = Vec::new();
    for (i, raw) in file.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r').trim_end();
        if raw.is_empty() {
            continue;
        }
        let (code, rest) = raw.split_once(',').unwrap_or((raw.trim_end_matches('/'), ""));
        if code == "88" {
            let last = out.last_mut().ok_or_else(|| refuse(line, "a continuation (88) before any record"))?;
            last.physical += 1;
            if last.code == "16" && last.fields.len() >= 5 {
                // Text goes on: a continuation of text carries more text.
                // The text goes on from the first character after the 88's comma.
                last.text.push_str(rest.trim_end());
            } else {
                let more = rest.strip_suffix('/').unwrap_or(rest);
                last.fields.extend(more.split(',').map(str::to_owned));
            }
            continue;
        }
        if !matches!(code, "01" | "02" | "03" | "16" | "49" | "98" | "99") {
            return Err(refuse(line, format!("record type `{code}` is not a BAI2 record")));
        }
        if code == "16" {
            // Type, amount, funds type (and its availability fields), bank ref, customer ref; text.
            let (fields, text) = split_detail(rest, line)?;
            out.push(Record { code: code.to_owned(), fields, text, line, physical: 1 });
        } else {
            let body = rest.strip_suffix('/').ok_or_else(|| refuse(line, "a record that does not end with `/`"))?;
            out.push(Record {
                code: code.to_owned(),
                fields: body.split(',').map(str::to_owned).collect(),
                text: String::new(),
                line,
                physical: 1,
            });
        }
    }
    Ok(out)
}

/// A 16 record's fields and its text: the funds type decides how many availability fields follow.
fn split_detail(rest: &str, line: usize) -> Result<(Vec<String>, String), FileError> {
    let mut parts = rest.splitn(4, ',');
    let type_code = parts.next().unwrap_or_default();
    let amount = parts.next().unwrap_or_default();
    let funds = parts.next().unwrap_or_default();
    let mut after = parts.next().unwrap_or_default();
    let extra = match funds {
        "" | "Z" | "0" | "1" | "2" => 0,
        "V" => 2,
        "S" => 3,
        "D" => {
            let (n, tail) = after.split_once(',').ok_or_else(|| refuse(line, "funds type D without its count"))?;
            after = tail;
            2 * count(n, line, "distribution count")?
        }
        other => return Err(refuse(line, format!("funds type `{other}` is not Z, 0, 1, 2, V, S or D"))),
    };
    for _ in 0..extra {
        after = after.split_once(',').map(|(_, t)| t).ok_or_else(|| refuse(line, "missing availability fields"))?;
    }
    let mut tail = after.splitn(3, ',');
    let bank = tail.next().unwrap_or_default();
    let customer = tail.next().ok_or_else(|| refuse(line, "a detail without its customer reference"))?;
    let text = tail.next().unwrap_or("/");
    let text = if text.starts_with('/') { "" } else { text };
    Ok((vec![type_code.into(), amount.into(), funds.into(), bank.into(), customer.into()], text.trim_end().to_owned()))
}

fn field<'a>(r: &'a Record, i: usize, what: &str) -> Result<&'a str, FileError> {
    r.fields.get(i).map(String::as_str).ok_or_else(|| refuse(r.line, format!("record {} has no {what}", r.code)))
}

/// Parses and verifies a BAI2 file (see the module).
pub fn parse(file: &str) -> Result<Bai2File, FileError> {
    let records = records(file)?;
    let mut it = records.iter().peekable();
    let header =
        it.next().filter(|r| r.code == "01").ok_or_else(|| refuse(1, "the file does not start with a 01 header"))?;
    let mut file_records = header.physical;
    let version = field(header, 7, "version number")?;
    if version != "2" {
        return Err(refuse(header.line, format!("version `{version}`: only BAI version 2 is read")));
    }
    let mut out = Bai2File {
        sender: field(header, 0, "sender")?.to_owned(),
        receiver: field(header, 1, "receiver")?.to_owned(),
        created: date(field(header, 2, "creation date")?, header.line, "creation date")?,
        file_id: field(header, 4, "file id")?.to_owned(),
        groups: Vec::new(),
    };
    let mut file_total: i64 = 0;
    loop {
        let r = it.next().ok_or_else(|| refuse(0, "the file ends without its 99 trailer"))?;
        match r.code.as_str() {
            "02" => {
                let mut group_records = r.physical;
                let group_currency = currency(field(r, 5, "currency").unwrap_or(""), r.line, Currency::USD)?;
                let mut group = Group {
                    originator: field(r, 1, "originator")?.to_owned(),
                    as_of: date(field(r, 3, "as-of date")?, r.line, "as-of date")?,
                    accounts: Vec::new(),
                };
                let mut group_total: i64 = 0;
                loop {
                    let a = it.next().ok_or_else(|| refuse(0, "the file ends inside a group"))?;
                    match a.code.as_str() {
                        "03" => {
                            let (account, total, records) = account(a, &mut it, group_currency)?;
                            group_total =
                                group_total.checked_add(total).ok_or_else(|| refuse(a.line, "totals overflow"))?;
                            group_records += records;
                            group.accounts.push(account);
                        }
                        "98" => {
                            group_records += a.physical;
                            trailer(a, ("group", "accounts"), group_total, group.accounts.len(), group_records)?;
                            break;
                        }
                        other => {
                            return Err(refuse(
                                a.line,
                                format!("a {other} record where an account (03) or the group trailer (98) belongs"),
                            ));
                        }
                    }
                }
                file_records += group_records;
                file_total = file_total.checked_add(group_total).ok_or_else(|| refuse(r.line, "totals overflow"))?;
                out.groups.push(group);
            }
            "99" => {
                file_records += r.physical;
                trailer(r, ("file", "groups"), file_total, out.groups.len(), file_records)?;
                if let Some(after) = it.next() {
                    return Err(refuse(after.line, "records after the file trailer (99)"));
                }
                return Ok(out);
            }
            other => {
                return Err(refuse(
                    r.line,
                    format!("a {other} record where a group (02) or the file trailer (99) belongs"),
                ));
            }
        }
    }
}

/// A group's (98) or the file's (99) trailer against what it closes: its control total, its
/// count of `children` (accounts, groups) and its records, each as added up here.
fn trailer(
    r: &Record,
    (scope, children): (&str, &str),
    total: i64,
    count_of: usize,
    records: usize,
) -> Result<(), FileError> {
    let what = format!("{scope} control total");
    let stated = signed(field(r, 0, &what)?, r.line, &what)?;
    if stated != total {
        return Err(refuse(r.line, format!("{scope} control total {stated}, but its {children} add up to {total}")));
    }
    let what = format!("number of {children}");
    let n = count(field(r, 1, &what)?, r.line, &what)?;
    if n != count_of {
        return Err(refuse(r.line, format!("{n} {children} counted, {count_of} in the {scope}")));
    }
    let n = count(field(r, 2, "number of records")?, r.line, "number of records")?;
    if n != records {
        return Err(refuse(r.line, format!("{n} records counted, {records} in the {scope}")));
    }
    Ok(())
}

/// An account (its 03, its 16s, its 49): the account, its control total and its records.
fn account<'a>(
    header: &Record,
    it: &mut std::iter::Peekable<std::slice::Iter<'a, Record>>,
    group_currency: Currency,
) -> Result<(Bai2Account, i64, usize), FileError> {
    let currency = currency(field(header, 1, "currency").unwrap_or(""), header.line, group_currency)?;
    let minor = |v: i64| Money::from_minor(v, currency);
    let mut total: i64 = 0;
    let mut summaries = Vec::new();
    // After the number and currency: (type code, amount, item count, funds type [+ availability]).
    let mut rest = header.fields.iter().skip(2).map(String::as_str).peekable();
    while let Some(code) = rest.next() {
        if code.is_empty() && rest.peek().is_none() {
            break;
        }
        let amount = rest.next().unwrap_or_default();
        let _items = rest.next();
        let funds = rest.next().unwrap_or_default();
        let skip = match funds {
            "V" => 2,
            "S" => 3,
            "D" => 2 * count(rest.next().unwrap_or_default(), header.line, "distribution count")?,
            _ => 0,
        };
        for _ in 0..skip {
            rest.next();
        }
        let value = if amount.is_empty() { None } else { Some(signed(amount, header.line, "summary amount")?) };
        if let Some(v) = value {
            total = total.checked_add(v).ok_or_else(|| refuse(header.line, "totals overflow"))?;
        }
        summaries.push((code.to_owned(), value.map(minor)));
    }
    let mut records = header.physical;
    let mut details = Vec::new();
    loop {
        let r = it.next().ok_or_else(|| refuse(0, "the file ends inside an account"))?;
        records += r.physical;
        match r.code.as_str() {
            "16" => {
                let amount = signed(&r.fields[1], r.line, "amount")?;
                if amount < 0 {
                    return Err(refuse(r.line, "a detail amount is never negative (its type says credit or debit)"));
                }
                total = total.checked_add(amount).ok_or_else(|| refuse(r.line, "totals overflow"))?;
                details.push(Detail {
                    type_code: r.fields[0].clone(),
                    amount: minor(amount),
                    bank_reference: r.fields[3].clone(),
                    customer_reference: r.fields[4].clone(),
                    text: r.text.clone(),
                    line: r.line,
                });
            }
            "49" => {
                let stated = signed(field(r, 0, "account control total")?, r.line, "account control total")?;
                if stated != total {
                    return Err(refuse(
                        r.line,
                        format!("account control total {stated}, but the account adds up to {total}"),
                    ));
                }
                let n = count(field(r, 1, "number of records")?, r.line, "number of records")?;
                if n != records {
                    return Err(refuse(r.line, format!("{n} records counted, {records} in the account")));
                }
                let number = field(header, 0, "account number")?.to_owned();
                return Ok((Bai2Account { number, currency, summaries, details }, total, records));
            }
            other => {
                return Err(refuse(
                    r.line,
                    format!("a {other} record where a detail (16) or the account trailer (49) belongs"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by hand from the specification (the integration tests use the PyPI `bai2`
    /// package's writer).
    const FILE: &str = "01,021000021,SELLER,261207,0800,1,80,,2/
02,SELLER,021000021,1,261207,0800,USD,2/
03,4000123456,USD,010,1500000,,,100,50000,1,Z/
16,115,50000,Z,LBX-7001,7001,LOCKBOX DEPOSIT/
16,555,12500,Z,RET-1,0001042,RETURNED ITEM NSF
88, RT 021000021 AC 12345678
49,1612500,5/
98,1612500,1,7/
99,1612500,1,9/
";

    #[test]
    fn reads_deposits_and_returned_items_with_their_continuations() {
        let f = parse(FILE).unwrap();
        assert_eq!(f.created, NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        let d = f.deposits();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].amount.to_string(), d[0].bank_reference.as_str()), ("500.00 USD".into(), "LBX-7001"));
        let r = f.returned_items();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].check_number.as_str(), r[0].amount.to_string()), ("1042", "125.00 USD".into()));
        assert_eq!(r[0].reason, ReturnReason::InsufficientFunds);
        assert_eq!(r[0].text, "RETURNED ITEM NSF RT 021000021 AC 12345678");
        assert!(is_bai2(FILE) && !is_bai2("1DEST      ORIGIN"));
    }

    /// Written by the PyPI `bai2` package (0.15.0) through `tests/fixtures/make_bai2.py`: its
    /// summaries, its line breaks (text split at 80 columns) and its trailers.
    #[test]
    fn reads_what_the_bai2_package_writes() {
        let f = parse(include_str!("../tests/fixtures/bai2-package.txt")).unwrap();
        let r = f.returned_items();
        assert_eq!(
            r[0].text,
            "RETURNED ITEM NSF RT 021000021 AC 12345678 A LONG TEXT THAT GOES ON AND ON PAST EIGHTY COLUMNS SO IT CONTINUES"
        );
        assert_eq!(
            (f.deposits()[0].amount.to_string(), r[0].amount.to_string()),
            ("500.00 USD".into(), "125.00 USD".into())
        );
        assert_eq!(f.groups[0].accounts[0].summaries.len(), 3);
    }

    #[test]
    fn every_trailer_is_checked() {
        for (from, to, why) in [
            ("49,1612500,5/", "49,1612501,5/", "account control total 1612501"),
            ("49,1612500,5/", "49,1612500,4/", "4 records counted, 5 in the account"),
            ("98,1612500,1,7/", "98,1612500,2,7/", "2 accounts counted"),
            ("98,1612500,1,7/", "98,1612500,1,6/", "6 records counted, 7 in the group"),
            ("99,1612500,1,9/", "99,1612500,1,8/", "8 records counted, 9 in the file"),
            ("99,1612500,1,9/", "99,1612500,2,9/", "2 groups counted"),
            ("99,1612500,1,9/", "99,-1,1,9/", "file control total -1"),
            ("16,115,50000,Z", "16,115,5O000,Z", "is not a whole number"),
            ("16,115,50000,Z", "16,115,50000,Q", "funds type `Q`"),
            (
                "01,021000021,SELLER,261207,0800,1,80,,2/",
                "01,021000021,SELLER,261207,0800,1,80,,3/",
                "only BAI version 2",
            ),
            ("99,1612500,1,9/\n", "", "without its 99 trailer"),
        ] {
            let bad = FILE.replace(from, to);
            let e = parse(&bad).unwrap_err();
            assert!(e.to_string().contains(why), "{from} → {to}: {e}");
        }
        let e = parse(&format!("{FILE}01,X/\n")).unwrap_err();
        assert!(e.reason.contains("after the file trailer"), "{e}");
    }

    #[test]
    fn availability_fields_are_skipped_by_funds_type() {
        let file = FILE
            .replace("16,115,50000,Z,LBX-7001", "16,115,50000,D,2,0,30000,1,20000,LBX-7001")
            .replace("16,555,12500,Z,RET-1", "16,555,12500,V,261207,0800,RET-1");
        let f = parse(&file).unwrap();
        assert_eq!(f.deposits()[0].bank_reference, "LBX-7001");
        assert_eq!(f.returned_items()[0].bank_reference, "RET-1");
    }

    #[test]
    fn reasons_from_the_text() {
        assert_eq!(return_reason("RETURN NSF"), ReturnReason::InsufficientFunds);
        assert_eq!(return_reason("Insufficient funds"), ReturnReason::InsufficientFunds);
        assert_eq!(return_reason("STOP PAYMENT"), ReturnReason::StopPayment);
        assert_eq!(return_reason("ACCOUNT CLOSED"), ReturnReason::AccountClosed);
        assert_eq!(return_reason("UNABLE TO LOCATE"), ReturnReason::Other);
        assert_eq!(return_reason("TRANSFER"), ReturnReason::Other);
    }
}
