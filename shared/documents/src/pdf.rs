//! The bill as a PDF, for filing and printing: the same content as the bill e-mail ([`BillFacts`]:
//! bill-to, number, dates, lines grouped with subtotals and service periods, totals, amount due,
//! REMIT-TO) on US Letter pages, with a **payment stub** at the foot of the last page, meant to be
//! cut off and mailed with a check.
//!
//! Laid out here (krilla draws; it has no layout): the lines table breaks across pages and
//! repeats its header on each, every page is numbered "Page i of n", a group's name is never left
//! alone at the foot of a page, and the stub gets a page of its own when the last page has no
//! room left for it. Text is real text (selectable, searchable) in DejaVu Sans Condensed,
//! embedded and subset; the stub's scan line is in OCR-B, as lockbox scanners read it. The document's metadata (title, author = the seller, creation date = the
//! bill's date, document id = the bill's id) comes from the bill, never from the clock, so the
//! same bill always gives the same bytes.

use std::sync::OnceLock;

use krilla::Document;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::{DateTime as PdfDateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Stroke, StrokeDash};
use krilla::text::{Font, TextDirection};

use crate::render::BillFacts;

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");
/// OCR-B (ISO 1073-2), the face lockbox scanners read the stub's scan line in: public domain
/// (`fonts/OCRB-LICENSE`).
static OCR_B: &[u8] = include_bytes!("../fonts/OCRB.otf");

/// US Letter, in points.
const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const LEFT: f32 = 48.0;
const RIGHT: f32 = PAGE_W - 48.0;
const TOP: f32 = 48.0;
/// Content stops here; the page footer goes below.
const BOTTOM: f32 = PAGE_H - 60.0;
/// The stub's height at the foot of the last page, above the footer.
const STUB_H: f32 = 150.0;

const TABLE_SIZE: f32 = 8.0;
const LINE: f32 = 10.5;
const PAD: f32 = 3.5;

/// The lines table's columns: (title, left edge, width, right-aligned).
const COLUMNS: [(&str, f32, f32, bool); 6] = [
    ("Description", LEFT, 150.0, false),
    ("Type", LEFT + 154.0, 44.0, false),
    ("Service period", LEFT + 202.0, 104.0, false),
    ("Qty", LEFT + 306.0, 44.0, true),
    ("Unit", LEFT + 356.0, 74.0, true),
    ("Amount", LEFT + 436.0, RIGHT - LEFT - 436.0, true),
];

#[derive(Debug, thiserror::Error)]
#[error("the PDF could not be made: {0}")]
pub struct PdfError(String);

struct Face {
    font: Font,
    metrics: ttf_parser::Face<'static>,
}

impl Face {
    fn load(data: &'static [u8]) -> Result<Self, PdfError> {
        let font = Font::new(data.into(), 0).ok_or_else(|| PdfError("the embedded font does not load".into()))?;
        let metrics =
            ttf_parser::Face::parse(data, 0).map_err(|e| PdfError(format!("the embedded font does not parse: {e}")))?;
        Ok(Self { font, metrics })
    }

    /// The width of `text` at `size` points, from the font's advances (as it is drawn: no
    /// kerning).
    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = f32::from(self.metrics.units_per_em());
        let units: f32 = text
            .chars()
            .map(|c| {
                self.metrics
                    .glyph_index(c)
                    .and_then(|g| self.metrics.glyph_hor_advance(g))
                    .map_or(upem / 2.0, f32::from)
            })
            .sum();
        units * size / upem
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
    ocr_b: Face,
}

fn fonts() -> Result<&'static Fonts, PdfError> {
    static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Ok(Fonts {
                regular: Face::load(REGULAR).map_err(|e| e.0)?,
                bold: Face::load(BOLD).map_err(|e| e.0)?,
                ocr_b: Face::load(OCR_B).map_err(|e| e.0)?,
            })
        })
        .as_ref()
        .map_err(|e| PdfError(e.clone()))
}

/// What a page shows, before it is drawn (pages are numbered once all are laid out).
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    /// The stub's scan line, in OCR-B.
    ScanLine {
        x: f32,
        y: f32,
        size: f32,
        text: String,
    },
    Rule {
        y: f32,
        x1: f32,
        x2: f32,
        width: f32,
        dashed: bool,
    },
}

struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    /// The baseline area still free on the current page starts here.
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Self { fonts, pages: vec![vec![]], y: TOP }
    }

    fn face(&self, bold: bool) -> &Face {
        if bold { &self.fonts.bold } else { &self.fonts.regular }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.pages.last_mut().expect("a page").push(Op::Text { x, y, size, bold, text });
        }
    }

    /// Right-aligned so the text ends at `right`.
    fn text_right(&mut self, right: f32, y: f32, size: f32, bold: bool, text: &str) {
        let x = right - self.face(bold).width(text, size);
        self.text(x, y, size, bold, text);
    }

    fn rule(&mut self, y: f32, x1: f32, x2: f32, width: f32, dashed: bool) {
        self.pages.last_mut().expect("a page").push(Op::Rule { y, x1, x2, width, dashed });
    }

    fn new_page(&mut self) {
        self.pages.push(vec![]);
        self.y = TOP;
    }

    /// Starts a new page unless `height` more fits above `limit`.
    fn room(&mut self, height: f32, limit: f32) -> bool {
        if self.y + height > limit {
            self.new_page();
            false
        } else {
            true
        }
    }

    /// `text` broken into lines no wider than `width` (at word boundaries; a word wider than the
    /// line is broken where it must be).
    fn wrap(&self, text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
        let face = self.face(bold);
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if face.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone, broken into pieces that fit.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if face.width(&next, size) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }
}

/// What a document's pages and metadata say of it.
struct Meta<'a> {
    /// "Invoice INV-000042": the title, and the footer of every page.
    title: String,
    seller: &'a str,
    description: String,
}

/// The bill's PDF. The same facts always give the same bytes.
pub fn bill(b: &BillFacts, created: chrono::DateTime<chrono::Utc>, id: &str) -> Result<Vec<u8>, PdfError> {
    let fonts = fonts()?;
    let mut l = Layout::new(fonts);
    let meta = [
        ("Invoice", b.number.as_str()),
        ("Account", b.account_number.as_str()),
        ("Issued", b.issued.as_str()),
        ("Due", b.due.as_str()),
        ("Services", b.period.as_str()),
    ];
    header(&mut l, &b.seller, "INVOICE", &b.bill_to, &meta);
    lines(&mut l, b);
    totals(&mut l, b);
    paying(&mut l, b);
    stub(&mut l, b);
    let meta = Meta {
        title: format!("Invoice {}", b.number),
        seller: &b.seller,
        description: format!("Invoice {} to {} for {}, due {}", b.number, b.account_name, b.amount_due, b.due),
    };
    draw(l, &meta, created, id)
}

/// A credit note's PDF: what it credits, why, and where the amount went. Nothing to pay, so no
/// stub. The same facts always give the same bytes.
pub fn credit_note(
    c: &crate::render::CreditNoteFacts,
    created: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> Result<Vec<u8>, PdfError> {
    let fonts = fonts()?;
    let mut l = Layout::new(fonts);
    let meta = [
        ("Credit note", c.number.as_str()),
        ("Account", c.account_number.as_str()),
        ("Issued", c.issued.as_str()),
        ("Credits invoice", c.invoice_number.as_str()),
    ];
    header(&mut l, &c.seller, "CREDIT NOTE", &c.bill_to, &meta);
    l.text(LEFT, l.y, 9.5, true, "Reason");
    for piece in l.wrap(&c.reason, 9.5, false, RIGHT - LEFT) {
        l.y += 13.0;
        l.text(LEFT, l.y, 9.5, false, piece);
    }
    l.y += 26.0;
    let mut rows: Vec<(String, &String, bool)> =
        vec![(format!("Credit on invoice {}", c.invoice_number), &c.amount, true)];
    if !c.taxes.is_empty() {
        rows.push(("Net of tax".to_owned(), &c.net, false));
        rows.extend(c.taxes.iter().map(|t| (format!("Tax reversed: {}", t.label), &t.amount, false)));
    }
    rows.extend([
        (format!("Applied to invoice {}", c.invoice_number), &c.to_invoice, false),
        ("Added to your account credit, taken off your next bill".to_owned(), &c.to_credit, false),
        (format!("Still due on invoice {}", c.invoice_number), &c.invoice_still_due, false),
    ]);
    for (label, value, strong) in rows {
        l.text_right(RIGHT - 110.0, l.y, 9.5, strong, &label);
        l.text_right(RIGHT, l.y, 9.5, strong, value);
        l.y += 14.0;
    }
    l.y += 14.0;
    l.text(LEFT, l.y, 9.0, false, "Nothing is to be paid on this credit note; keep it with the invoice it credits.");
    let meta = Meta {
        title: format!("Credit note {}", c.number),
        seller: &c.seller,
        description: format!("Credit note {} for {} on invoice {}", c.number, c.amount, c.invoice_number),
    };
    draw(l, &meta, created, id)
}

/// The statement columns: (title, left edge, width, right-aligned).
const STATEMENT_COLUMNS: [(&str, f32, f32, bool); 5] = [
    ("Date", LEFT, 62.0, false),
    ("Description", LEFT + 66.0, 222.0, false),
    ("Charges", LEFT + 292.0, 76.0, true),
    ("Payments, credits", LEFT + 372.0, 80.0, true),
    ("Balance", LEFT + 456.0, RIGHT - LEFT - 456.0, true),
];

fn statement_header(l: &mut Layout) {
    column_titles(l, &STATEMENT_COLUMNS);
}

/// A statement row: its cells, the description wrapped to its column.
fn statement_row(l: &mut Layout, cells: [&str; 5], strong: bool) {
    let description = l.wrap(cells[1], TABLE_SIZE, strong, STATEMENT_COLUMNS[1].2);
    let height = description.len() as f32 * LINE + PAD;
    if !l.room(height, BOTTOM) {
        statement_header(l);
    }
    for (i, (_, x, w, right)) in STATEMENT_COLUMNS.iter().enumerate() {
        if i == 1 {
            for (k, piece) in description.iter().enumerate() {
                l.text(*x, l.y + k as f32 * LINE, TABLE_SIZE, strong, piece);
            }
        } else if *right {
            l.text_right(x + w, l.y, TABLE_SIZE, strong, cells[i]);
        } else {
            l.text(*x, l.y, TABLE_SIZE, strong, cells[i]);
        }
    }
    l.rule(l.y + height - LINE + 1.0, LEFT, RIGHT, 0.3, false);
    l.y += height;
}

/// The statement of account's PDF: the activity table across pages (its header repeated), the
/// closing balance, the open bills with their age, the aging buckets and how to pay. The same
/// statement always gives the same bytes (`created` is the statement's date, not the clock).
pub fn statement(
    s: &crate::render::StatementFacts,
    created: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> Result<Vec<u8>, PdfError> {
    let fonts = fonts()?;
    let mut l = Layout::new(fonts);
    let meta = [
        ("Account", s.account_number.as_str()),
        ("Period", s.period.as_str()),
        ("Statement date", s.statement_date.as_str()),
        ("Balance due", s.closing.as_str()),
    ];
    header(&mut l, &s.seller, "STATEMENT", &s.bill_to, &meta);
    statement_header(&mut l);
    statement_row(&mut l, ["", "Opening balance", "", "", &s.opening], true);
    for r in &s.rows {
        statement_row(&mut l, [&r.date, &r.description, &r.debit, &r.credit, &r.balance], false);
    }
    statement_row(&mut l, ["", "Total charges and credits", &s.total_debits, &s.total_credits, ""], false);
    statement_row(&mut l, ["", "Closing balance", "", "", &s.closing], true);

    // What is open at the end of the period, and how old.
    let open_h = 30.0 + s.open_items.len().max(1) as f32 * 12.0;
    l.room(open_h, BOTTOM);
    l.y += 18.0;
    l.text(LEFT, l.y, 10.5, true, "Open bills");
    l.y += 14.0;
    if s.open_items.is_empty() {
        l.text(LEFT, l.y, 9.0, false, "None: nothing is owed.");
        l.y += 12.0;
    }
    for o in &s.open_items {
        l.text(LEFT, l.y, 9.0, true, &o.number);
        l.text(LEFT + 90.0, l.y, 9.0, false, format!("issued {}, due {}", o.issued, o.due));
        l.text(LEFT + 290.0, l.y, 9.0, false, &o.status);
        l.text_right(RIGHT, l.y, 9.0, true, &o.amount);
        l.y += 12.0;
    }
    if let Some(credit) = &s.unapplied_credit {
        l.text(LEFT, l.y, 9.0, false, "Unapplied credit (taken off the next bill)");
        l.text_right(RIGHT, l.y, 9.0, false, &format!("-{credit}"));
        l.y += 12.0;
    }
    l.room(44.0, BOTTOM);
    l.y += 14.0;
    let width = (RIGHT - LEFT) / s.aging.len() as f32;
    for (i, (label, amount)) in s.aging.iter().enumerate() {
        let right = LEFT + width * (i as f32 + 1.0) - 4.0;
        l.text_right(right, l.y, 8.0, true, label);
        l.text_right(right, l.y + 12.0, 9.0, false, amount);
    }
    l.y += 30.0;

    let url = l.wrap(&s.portal_url, 8.5, false, RIGHT - LEFT);
    let remit = if s.remit_to.is_empty() { 0 } else { s.remit_to.len() + 2 };
    l.room(16.0 + (url.len() + 1 + remit) as f32 * 12.0, BOTTOM);
    l.y += 4.0;
    l.text(LEFT, l.y, 9.5, true, "Pay by card, or see every bill, in the billing portal:");
    for piece in url {
        l.y += 12.0;
        l.text(LEFT, l.y, 8.5, false, piece);
    }
    if !s.remit_to.is_empty() {
        l.y += 16.0;
        l.text(LEFT, l.y, 9.5, true, "REMIT TO");
        for line in &s.remit_to {
            l.y += 12.0;
            l.text(LEFT, l.y, 9.5, false, line.clone());
        }
    }
    let meta = Meta {
        title: format!("Statement {} {}", s.account_number, s.period),
        seller: &s.seller,
        description: format!("Statement of account {} for {}: balance {}", s.account_name, s.period, s.closing),
    };
    draw(l, &meta, created, id)
}

fn header(l: &mut Layout, seller: &str, kind: &str, bill_to: &[String], meta: &[(&str, &str)]) {
    l.text(LEFT, l.y + 16.0, 16.0, true, seller.to_owned());
    l.text_right(RIGHT, l.y + 16.0, 16.0, true, kind);
    l.y += 34.0;
    let top = l.y;
    l.text(LEFT, l.y, 9.0, true, "Bill to");
    for line in bill_to {
        for piece in l.wrap(line, 9.0, false, 250.0) {
            l.y += 12.0;
            l.text(LEFT, l.y, 9.0, false, &piece);
        }
    }
    let left_end = l.y;
    l.y = top;
    for (i, (label, value)) in meta.iter().enumerate() {
        l.text(RIGHT - 230.0, l.y, 9.0, true, *label);
        l.text_right(RIGHT, l.y, 9.0, i == 0, value);
        l.y += 12.0;
    }
    l.y = left_end.max(l.y) + 22.0;
}

fn table_header(l: &mut Layout) {
    column_titles(l, &COLUMNS);
}

/// A table's column titles, each at its column (right-aligned ones end at its right edge), and
/// the rule under them.
fn column_titles(l: &mut Layout, columns: &[(&str, f32, f32, bool)]) {
    for &(title, x, w, right) in columns {
        if right {
            l.text_right(x + w, l.y, TABLE_SIZE, true, title);
        } else {
            l.text(x, l.y, TABLE_SIZE, true, title);
        }
    }
    l.rule(l.y + 4.0, LEFT, RIGHT, 1.2, false);
    l.y += 4.0 + LINE + PAD;
}

fn lines(l: &mut Layout, b: &BillFacts) {
    table_header(l);
    let limit = BOTTOM;
    for g in &b.groups {
        let name = l.wrap(&g.name, 9.0, true, RIGHT - LEFT);
        let first_row = g.lines.first().map_or(0.0, |r| row_height(l, r));
        // A group's name stays with its first line.
        if !l.room(name.len() as f32 * 12.0 + first_row + 6.0, limit) {
            table_header(l);
        }
        l.y += 6.0;
        for piece in name {
            l.text(LEFT, l.y, 9.0, true, piece);
            l.y += 12.0;
        }
        for row in &g.lines {
            let height = row_height(l, row);
            if !l.room(height, limit) {
                table_header(l);
            }
            let description = l.wrap(&row.description, TABLE_SIZE, false, COLUMNS[0].2);
            let mut period = vec![row.period.clone()];
            if row.partial {
                period.push("(partial period)".to_owned());
            }
            for (i, piece) in description.iter().enumerate() {
                l.text(COLUMNS[0].1, l.y + i as f32 * LINE, TABLE_SIZE, false, piece.clone());
            }
            l.text(COLUMNS[1].1, l.y, TABLE_SIZE, false, row.kind);
            for (i, piece) in period.iter().enumerate() {
                l.text(COLUMNS[2].1, l.y + i as f32 * LINE, TABLE_SIZE, false, piece.clone());
            }
            for (col, value) in [(3, &row.quantity), (4, &row.unit), (5, &row.amount)] {
                let (_, x, w, _) = COLUMNS[col];
                l.text_right(x + w, l.y, TABLE_SIZE, false, value);
            }
            l.rule(l.y + height - LINE + 1.0, LEFT, RIGHT, 0.3, false);
            l.y += height;
        }
        let label = format!("Subtotal {}", g.name);
        let label_right = RIGHT - l.face(true).width(&g.subtotal, TABLE_SIZE).max(COLUMNS[5].2) - 10.0;
        let label = l.wrap(&label, TABLE_SIZE, true, label_right - LEFT);
        if !l.room(label.len() as f32 * LINE + PAD, limit) {
            table_header(l);
        }
        for (i, piece) in label.iter().enumerate() {
            l.text_right(label_right, l.y, TABLE_SIZE, true, piece);
            if i == 0 {
                l.text_right(RIGHT, l.y, TABLE_SIZE, true, &g.subtotal);
            }
            l.y += LINE;
        }
        l.y += PAD;
    }
}

fn row_height(l: &Layout, row: &crate::render::LineRow) -> f32 {
    let description = l.wrap(&row.description, TABLE_SIZE, false, COLUMNS[0].2).len();
    let period = if row.partial { 2 } else { 1 };
    description.max(period) as f32 * LINE + PAD
}

/// The bill's totals, right-aligned; a contract bill's account summary (what was owed at the
/// last bill, what came in since, what is carried forward, this bill, the total due as of the
/// cut-off) beside them on the left when the totals' labels leave it room, else under them; then
/// the tax notes across the page.
fn totals(l: &mut Layout, b: &BillFacts) {
    const ROW: f32 = 13.0;
    const SIZE: f32 = 9.5;
    let mut rows: Vec<(String, &str, bool)> = vec![("Subtotal (excl. tax)".to_owned(), &b.subtotal, false)];
    if b.taxes.is_empty() {
        rows.push(("Tax".to_owned(), &b.tax, false));
    }
    // Each tax group with its rate and taxable base.
    rows.extend(b.taxes.iter().map(|t| (t.label.clone(), t.amount.as_str(), false)));
    rows.push(("Total".to_owned(), &b.total, false));
    rows.push(("Paid".to_owned(), &b.amount_paid, false));
    rows.push((format!("Amount due {}", b.due), &b.amount_due, true));
    let label_right = RIGHT - 110.0;
    let widest = rows.iter().map(|(label, _, strong)| l.face(*strong).width(label, SIZE)).fold(0.0, f32::max);
    let notes: Vec<Vec<String>> = b.tax_notes.iter().map(|n| l.wrap(n, 9.0, false, RIGHT - LEFT)).collect();
    let note_lines: usize = notes.iter().map(Vec::len).sum();
    let summary_rows = b.summary.as_ref().map_or(0, |s| s.rows.len() + 2 + usize::from(s.in_credit));
    // The summary's column: from the left margin to short of the widest totals label.
    let column = (label_right - widest - 24.0 - LEFT).min(250.0);
    let beside = b.summary.is_some() && column >= 210.0;
    let block = if beside { rows.len().max(summary_rows) } else { rows.len() + summary_rows + 1 };
    l.room(12.0 + block as f32 * ROW + note_lines as f32 * 12.0, BOTTOM);
    l.y += 12.0;
    let top = l.y;
    for (label, value, strong) in rows {
        l.text_right(label_right, l.y, SIZE, strong, &label);
        l.text_right(RIGHT, l.y, SIZE, strong, value);
        l.y += ROW;
    }
    if let Some(s) = &b.summary {
        let (x, right) = if beside {
            l.y = top;
            (LEFT, LEFT + column)
        } else {
            l.y += ROW;
            (LEFT, RIGHT)
        };
        let bottom = top + rows_height(b, ROW);
        l.text(x, l.y, SIZE, true, "Account summary");
        let heading = l.face(true).width("Account summary", SIZE);
        l.text(x + heading + 6.0, l.y, 8.0, false, format!("as of {}", s.cut_off));
        l.y += ROW;
        for r in &s.rows {
            l.text(x, l.y, SIZE, false, r.label);
            l.text_right(right, l.y, SIZE, false, &r.amount);
            l.y += ROW;
        }
        l.rule(l.y - 9.5, x, right, 0.5, false);
        l.text(x, l.y, SIZE, true, "Total amount due");
        l.text_right(right, l.y, SIZE, true, &s.total_due);
        l.y += ROW;
        if s.in_credit {
            l.text(x, l.y, 8.5, false, "In credit: nothing to pay.");
            l.y += ROW;
        }
        if beside {
            l.y = l.y.max(bottom);
        }
    }
    for pieces in notes {
        for piece in pieces {
            l.text(LEFT, l.y, 9.0, false, &piece);
            l.y += 12.0;
        }
    }
}

/// The height of the totals' rows.
fn rows_height(b: &BillFacts, row: f32) -> f32 {
    let taxes = if b.taxes.is_empty() { 1 } else { b.taxes.len() };
    (taxes + 4) as f32 * row
}

fn paying(l: &mut Layout, b: &BillFacts) {
    let url = l.wrap(&b.portal_url, 8.5, false, RIGHT - LEFT);
    let remit = if b.remit_to.is_empty() { 0 } else { b.remit_to.len() + 3 };
    l.room(14.0 + (url.len() + 1 + remit) as f32 * 12.0, BOTTOM);
    l.y += 14.0;
    l.text(LEFT, l.y, 9.5, true, "Pay by card in the billing portal:");
    for piece in url {
        l.y += 12.0;
        l.text(LEFT, l.y, 8.5, false, piece);
    }
    if !b.remit_to.is_empty() {
        l.y += 18.0;
        let line =
            format!("Paying by check: make checks payable to {} and mail them with the stub below to:", b.seller);
        for piece in l.wrap(&line, 9.5, false, RIGHT - LEFT) {
            l.text(LEFT, l.y, 9.5, false, piece);
            l.y += 12.0;
        }
        l.y += 4.0;
        l.text(LEFT, l.y, 9.5, true, "REMIT TO");
        for line in &b.remit_to {
            l.y += 12.0;
            l.text(LEFT, l.y, 9.5, false, line.clone());
        }
    }
    l.y += 12.0;
}

/// The payment stub, at the foot of the last page (on a page of its own when no room is left).
fn stub(l: &mut Layout, b: &BillFacts) {
    let top = BOTTOM - STUB_H;
    if l.y > top - 8.0 {
        l.new_page();
    }
    l.rule(top, LEFT, RIGHT, 1.0, true);
    let mut y = top + 16.0;
    l.text(LEFT, y, 9.0, true, "PAYMENT STUB");
    let note_x = LEFT + l.face(true).width("PAYMENT STUB", 9.0) + 6.0;
    l.text(note_x, y, 8.0, false, "detach along the line and return this part with your payment");
    y += 20.0;
    let fields = [
        ("Account number", b.account_number.as_str(), true),
        ("Account name", b.account_name.as_str(), false),
        ("Invoice number", b.number.as_str(), true),
        ("Due", b.due.as_str(), false),
        (b.stub_label, b.stub_amount.as_str(), true),
    ];
    let mut field_y = y;
    for (label, value, strong) in fields {
        l.text(LEFT, field_y, 9.0, false, label);
        // A long account name takes two lines at most.
        for (i, piece) in l.wrap(value, 9.0, strong, 190.0).into_iter().take(2).enumerate() {
            if i > 0 {
                field_y += 11.0;
            }
            l.text(LEFT + 90.0, field_y, 9.0, strong, piece);
        }
        field_y += 14.0;
    }
    l.text(LEFT, field_y + 4.0, 9.0, false, "Amount enclosed");
    l.rule(field_y + 6.0, LEFT + 90.0, LEFT + 250.0, 0.6, false);
    // The machine-readable line, at the stub's foot, in OCR-B at 10 characters an inch (12 pt).
    if let Some(line) = &b.scan_line {
        l.pages.last_mut().expect("a page").push(Op::ScanLine {
            x: LEFT,
            y: top + STUB_H - 12.0,
            size: 12.0,
            text: line.clone(),
        });
    }
    if !b.remit_to.is_empty() {
        let x = LEFT + 300.0;
        l.text(x, y, 9.0, true, "REMIT TO");
        for (i, line) in b.remit_to.iter().enumerate() {
            l.text(x, y + 14.0 * (i as f32 + 1.0), 9.0, false, line.clone());
        }
    }
}

fn draw(l: Layout, meta: &Meta, created: chrono::DateTime<chrono::Utc>, id: &str) -> Result<Vec<u8>, PdfError> {
    use chrono::{Datelike, Timelike};
    let fonts = l.fonts;
    let mut document = Document::new();
    let count = l.pages.len();
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| PdfError("page size".into()))?;
    for (i, ops) in l.pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        let footer = [
            (LEFT, format!("{} · {}", meta.title, meta.seller)),
            (
                RIGHT - fonts.regular.width(&format!("Page {} of {count}", i + 1), 7.5),
                format!("Page {} of {count}", i + 1),
            ),
        ];
        let footer = footer.into_iter().map(|(x, text)| Op::Text { x, y: PAGE_H - 30.0, size: 7.5, bold: false, text });
        for op in ops.into_iter().chain(footer) {
            match op {
                Op::Text { x, y, size, bold, text } => {
                    let face = if bold { &fonts.bold } else { &fonts.regular };
                    surface.draw_text(Point::from_xy(x, y), face.font.clone(), size, &text, false, TextDirection::Auto);
                }
                Op::ScanLine { x, y, size, text } => {
                    let font = fonts.ocr_b.font.clone();
                    surface.draw_text(Point::from_xy(x, y), font, size, &text, false, TextDirection::Auto);
                }
                Op::Rule { y, x1, x2, width, dashed } => {
                    let mut path = PathBuilder::new();
                    path.move_to(x1, y);
                    path.line_to(x2, y);
                    let Some(path) = path.finish() else { continue };
                    surface.set_fill(None);
                    surface.set_stroke(Some(Stroke {
                        width,
                        dash: dashed.then(|| StrokeDash { array: vec![4.0, 3.0], offset: 0.0 }),
                        ..Stroke::default()
                    }));
                    surface.draw_path(&path);
                    surface.set_stroke(None);
                    surface.set_fill(Some(Default::default()));
                }
            }
        }
        surface.finish();
        page.finish();
    }
    let date = PdfDateTime::new(created.year().clamp(0, 9999) as u16)
        .month(created.month() as u8)
        .day(created.day() as u8)
        .hour(created.hour() as u8)
        .minute(created.minute() as u8)
        .second(created.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    document.set_metadata(
        Metadata::new()
            .title(meta.title.clone())
            .authors(vec![meta.seller.to_owned()])
            .description(meta.description.clone())
            .creator(format!("{} billing", meta.seller))
            .language("en".into())
            .creation_date(date)
            .document_id(id.to_owned()),
    );
    document.finish().map_err(|e| PdfError(format!("{e:?}")))
}
