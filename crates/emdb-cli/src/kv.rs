//! `emdb get | put | del | scan`: reading and writing records through the public API (the
//! database must not be open elsewhere; writes are flushed before the command returns).

use std::path::Path;

use emdb::Emdb;

use crate::Failure;
use crate::encoding::{Format, parse, show};

fn open_existing(path: &Path, ranges: bool) -> Result<Emdb, Failure> {
    if !path.exists() {
        return Err(Failure::new(format!(
            "{}: no such database",
            path.display()
        )));
    }
    Ok(crate::secrets::builder(path)?
        .enable_range_scans(ranges)
        .build()?)
}

fn namespace_of(
    db: &Emdb,
    ns: Option<&str>,
    create: bool,
) -> Result<Option<emdb::Namespace>, Failure> {
    match ns {
        None | Some("") => Ok(None),
        Some(name) => {
            if !create && !db.list_namespaces()?.iter().any(|n| n == name) {
                return Err(Failure::new(format!("no namespace named `{name}`")));
            }
            Ok(Some(db.namespace(name)?))
        }
    }
}

pub(crate) fn get(
    path: &Path,
    ns: Option<&str>,
    key: &str,
    key_format: Format,
    format: Format,
) -> Result<(), Failure> {
    let db = open_existing(path, false)?;
    let key = parse(key, key_format)?;
    let value = match namespace_of(&db, ns, false)? {
        Some(n) => n.get(&key)?,
        None => db.get(&key)?,
    };
    match value {
        Some(v) => {
            println!("{}", show(&v, format));
            Ok(())
        }
        None => Err(Failure::new("key not found")),
    }
}

pub(crate) fn put(
    path: &Path,
    ns: Option<&str>,
    key: &str,
    value: &str,
    input: Format,
) -> Result<(), Failure> {
    let (key, value) = (parse(key, input)?, parse(value, input)?);
    let db = crate::secrets::builder(path)?.build()?;
    match namespace_of(&db, ns, true)? {
        Some(n) => n.insert(key, value)?,
        None => db.insert(key, value)?,
    }
    Ok(db.flush()?)
}

pub(crate) fn del(
    path: &Path,
    ns: Option<&str>,
    key: &str,
    key_format: Format,
) -> Result<(), Failure> {
    let db = open_existing(path, false)?;
    let key = parse(key, key_format)?;
    let old = match namespace_of(&db, ns, false)? {
        Some(n) => n.remove(&key)?,
        None => db.remove(&key)?,
    };
    db.flush()?;
    if old.is_some() {
        Ok(())
    } else {
        Err(Failure::new("key not found"))
    }
}

pub(crate) fn scan(
    path: &Path,
    ns: Option<&str>,
    prefix: Option<&str>,
    from: Option<&str>,
    limit: Option<usize>,
    format: Format,
) -> Result<(), Failure> {
    let db = open_existing(path, true)?;
    let mut records = match (namespace_of(&db, ns, false)?, prefix, from) {
        (Some(n), Some(p), _) => Scan::Ns(n.range_prefix_iter(p)?),
        (Some(n), None, Some(f)) => Scan::Ns(n.iter_from(f)?),
        (Some(n), None, None) => Scan::Ns(n.range_iter(..)?),
        (None, Some(p), _) => Scan::Db(db.range_prefix_iter(p)?),
        (None, None, Some(f)) => Scan::Db(db.iter_from(f)?),
        (None, None, None) => Scan::Db(db.range_iter(..)?),
    };
    let from = from.map(str::as_bytes);
    for (k, v) in records
        .by_ref()
        .filter(|(k, _)| from.is_none_or(|f| k.as_slice() >= f))
        .take(limit.unwrap_or(usize::MAX))
    {
        println!("{}\t{}", show(&k, format), show(&v, format));
    }
    // A record that could not be read was skipped; the scan fails rather than look complete.
    records.finish()?;
    Ok(())
}

/// The records a scan prints: from the default namespace or a named one.
enum Scan {
    Db(emdb::EmdbRangeIter),
    Ns(emdb::NamespaceRangeIter),
}

impl Iterator for Scan {
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Scan::Db(it) => it.next(),
            Scan::Ns(it) => it.next(),
        }
    }
}

impl Scan {
    fn finish(self) -> emdb::Result<()> {
        match self {
            Scan::Db(it) => it.finish(),
            Scan::Ns(it) => it.finish(),
        }
    }
}
