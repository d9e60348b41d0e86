//! `emdb dump` and `emdb load`: the text format of LMDB's `mdb_dump`/`mdb_load` (so LMDB tooling
//! can read our dumps and we can load theirs), and JSON lines.
//!
//! mdb format: a header of `name=value` lines from `VERSION=3` to `HEADER=END` (`format=` is
//! `bytevalue` or `print`; `database=NAME` names a namespace), then one line per key and one per
//! value, each starting with a space: hex digits in `bytevalue`, or printable ASCII with `\\` for
//! a backslash and `\xx` (hex) for any other byte in `print`; then `DATA=END`. Several sections
//! may follow each other. Expiry times are not part of this format; JSON lines keep them.
//!
//! JSON lines: one object per record, `{"ns": NAME, "key": HEX, "value": HEX, "expires_at": MS}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;

use emdb::Emdb;
use serde_json::json;

use crate::Failure;
use crate::encoding::hex;
use crate::progress::Progress;

/// Output format of `emdb dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DumpFormat {
    /// `mdb_dump` text, values in hex.
    Bytevalue,
    /// `mdb_dump` text, printable characters as themselves.
    Print,
    /// One JSON object per line (keeps expiry times).
    Jsonl,
}

fn print_escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                let _ = write!(s, "\\{b:02x}");
            }
        }
    }
    s
}

fn parse_print(line: &str) -> Option<Vec<u8>> {
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else {
                let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    crate::encoding::parse(s, crate::encoding::Format::Hex).ok()
}

/// A key and its value.
type Pair = (Vec<u8>, Vec<u8>);
/// A record to load: namespace, key, value, expiry (unix ms, 0 = none).
type Record = (String, Vec<u8>, Vec<u8>, u64);

fn records(db: &Emdb, ns: &str) -> Result<Vec<Pair>, Failure> {
    // A record that could not be read fails the dump rather than leave it out.
    let mut v: Vec<_> = if ns.is_empty() {
        let mut it = db.iter()?;
        let v = it.by_ref().collect();
        it.finish().map(|()| v)?
    } else {
        let mut it = db.namespace(ns)?.iter()?;
        let v = it.by_ref().collect();
        it.finish().map(|()| v)?
    };
    v.sort();
    Ok(v)
}

pub(crate) fn dump(
    path: &Path,
    ns: Option<&str>,
    all: bool,
    format: DumpFormat,
) -> Result<(), Failure> {
    if !path.exists() {
        return Err(Failure::new(format!(
            "{}: no such database",
            path.display()
        )));
    }
    let db = crate::secrets::builder(path)?.build()?;
    let names: Vec<String> = match (all, ns) {
        (true, _) => db.list_namespaces()?,
        (false, Some(n)) => {
            if !db.list_namespaces()?.iter().any(|x| x == n) {
                return Err(Failure::new(format!("no namespace named `{n}`")));
            }
            vec![n.to_owned()]
        }
        (false, None) => vec![String::new()],
    };
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for name in names {
        let recs = records(&db, &name)?;
        if format == DumpFormat::Jsonl {
            for (k, v) in recs {
                let expires = if name.is_empty() {
                    db.expires_at(&k)?
                } else {
                    db.namespace(&name)?.expires_at(&k)?
                };
                let line = json!({ "ns": name, "key": hex(&k), "value": hex(&v), "expires_at": expires.unwrap_or(0) });
                writeln!(out, "{line}")?;
            }
            continue;
        }
        writeln!(out, "VERSION=3")?;
        writeln!(
            out,
            "format={}",
            if format == DumpFormat::Print {
                "print"
            } else {
                "bytevalue"
            }
        )?;
        if !name.is_empty() {
            writeln!(out, "database={}", print_escaped(name.as_bytes()))?;
        }
        writeln!(out, "type=btree")?;
        writeln!(out, "HEADER=END")?;
        for (k, v) in recs {
            for item in [k, v] {
                let text = if format == DumpFormat::Print {
                    print_escaped(&item)
                } else {
                    hex(&item)
                };
                writeln!(out, " {text}")?;
            }
        }
        writeln!(out, "DATA=END")?;
    }
    out.flush()?;
    Ok(())
}

/// What one input line means.
struct Loader {
    batch: Vec<Record>,
    loaded: u64,
}

impl Loader {
    /// Collects a record. Nothing is written until the whole input parsed, so a bad line leaves
    /// the database untouched (the input is held in memory until then).
    fn push(&mut self, ns: &str, k: Vec<u8>, v: Vec<u8>, expires_at: u64) {
        self.batch.push((ns.to_owned(), k, v, expires_at));
    }

    /// Writes everything collected, in atomic batches of 10,000 records per namespace.
    fn commit(&mut self, db: &Emdb, progress: &Progress) -> Result<(), Failure> {
        let bar = progress.bar(self.batch.len() as u64, "loading");
        let all = std::mem::take(&mut self.batch);
        for chunk in all.chunks(10_000) {
            self.commit_chunk(db, chunk.to_vec())?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(())
    }

    fn commit_chunk(&mut self, db: &Emdb, batch: Vec<Record>) -> Result<(), Failure> {
        let mut by_ns: BTreeMap<String, Vec<(Pair, u64)>> = BTreeMap::new();
        for (ns, k, v, e) in batch {
            by_ns.entry(ns).or_default().push(((k, v), e));
        }
        for (ns, items) in by_ns {
            self.loaded += items.len() as u64;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let (plain, timed): (Vec<_>, Vec<_>) = items.into_iter().partition(|(_, e)| *e == 0);
            let pairs = plain.into_iter().map(|(kv, _)| kv);
            let space = (!ns.is_empty()).then(|| db.namespace(&ns)).transpose()?;
            match &space {
                Some(n) => n.insert_many(pairs)?,
                None => db.insert_many(pairs)?,
            }
            for ((k, v), e) in timed {
                let ttl = emdb::Ttl::After(std::time::Duration::from_millis(e.saturating_sub(now)));
                match &space {
                    Some(n) => n.insert_with_ttl(k, v, ttl)?,
                    None => db.insert_with_ttl(k, v, ttl)?,
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn load(path: &Path, input: Option<&Path>, progress: &Progress) -> Result<(), Failure> {
    let reader: Box<dyn BufRead> = match input {
        Some(f) => Box::new(std::io::BufReader::new(std::fs::File::open(f)?)),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let mut loader = Loader {
        batch: Vec::new(),
        loaded: 0,
    };
    let spin = progress.spinner("reading");
    let bad = |n: usize, what: &str| Failure::new(format!("input line {n}: {what}"));
    let mut in_header = false;
    let mut in_data = false;
    let mut print = false;
    let mut ns = String::new();
    let mut pending_key: Option<Vec<u8>> = None;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let n = i + 1;
        if !in_header && !in_data {
            if line.trim().is_empty() {
                continue;
            }
            if line.starts_with('{') {
                let v: serde_json::Value =
                    serde_json::from_str(&line).map_err(|e| bad(n, &format!("bad JSON: {e}")))?;
                let field = |name: &str| {
                    v[name]
                        .as_str()
                        .and_then(parse_hex)
                        .ok_or_else(|| bad(n, &format!("missing or bad `{name}`")))
                };
                let ns = v["ns"].as_str().unwrap_or_default().to_owned();
                loader.push(
                    &ns,
                    field("key")?,
                    field("value")?,
                    v["expires_at"].as_u64().unwrap_or(0),
                );
                continue;
            }
            if line.starts_with("VERSION=") {
                in_header = true;
                print = false;
                ns.clear();
                continue;
            }
            return Err(bad(n, "expected VERSION=3 or a JSON object"));
        }
        if in_header {
            match line.split_once('=') {
                Some(("HEADER", "END")) => {
                    in_header = false;
                    in_data = true;
                }
                Some(("format", "print")) => print = true,
                Some(("format", "bytevalue")) => print = false,
                Some(("format", other)) => {
                    return Err(bad(n, &format!("unknown format `{other}`")));
                }
                Some(("database", name)) => {
                    let raw = parse_print(name).ok_or_else(|| bad(n, "bad database name"))?;
                    ns =
                        String::from_utf8(raw).map_err(|_| bad(n, "database name is not UTF-8"))?;
                }
                Some(_) => {} // type, mapsize, maxreaders, db_pagesize, duplicates: no meaning here
                None => return Err(bad(n, "expected name=value in the header")),
            }
            continue;
        }
        if line == "DATA=END" {
            if pending_key.is_some() {
                return Err(bad(n, "a key without a value"));
            }
            in_data = false;
            continue;
        }
        let text = line
            .strip_prefix(' ')
            .ok_or_else(|| bad(n, "data lines start with a space"))?;
        let bytes = if print {
            parse_print(text)
        } else {
            parse_hex(text)
        }
        .ok_or_else(|| bad(n, "bad encoding"))?;
        match pending_key.take() {
            None => pending_key = Some(bytes),
            Some(k) => loader.push(&ns, k, bytes, 0),
        }
        spin.set_position(loader.batch.len() as u64);
    }
    spin.finish_and_clear();
    if in_header || in_data {
        return Err(Failure::new(
            "input ended inside a section (missing HEADER=END or DATA=END)",
        ));
    }
    let db = crate::secrets::builder(path)?.build()?;
    loader.commit(&db, progress)?;
    db.flush()?;
    println!("loaded {} records into {}", loader.loaded, path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_escaping_round_trips() {
        for b in [
            &b""[..],
            b"plain",
            b"back\\slash",
            b"\x00\x01\xff",
            b"tab\there",
        ] {
            assert_eq!(parse_print(&print_escaped(b)).unwrap(), b);
        }
        assert_eq!(print_escaped(b"a\\b\n"), "a\\\\b\\0a");
        assert!(parse_print("\\z").is_none());
    }
}
