//! The namespace registry: names and ids, in creation order.
//!
//! Id 0 is the default namespace, named `""`, which always exists and is never written to the
//! log. Named namespaces get increasing ids that are never reused while the process runs, so a
//! dropped namespace's records can never be confused with a later one of the same name.

use std::collections::{BTreeMap, HashMap};

use crate::error::Corruption;

#[derive(Debug, Clone)]
pub(crate) struct NamespaceTable {
    /// Id -> (name, offset of the entry that created it; 0 for the default namespace).
    by_id: BTreeMap<u32, (String, u64)>,
    by_name: HashMap<String, u32>,
    next_id: u32,
}

impl Default for NamespaceTable {
    fn default() -> Self {
        let mut t = NamespaceTable {
            by_id: BTreeMap::new(),
            by_name: HashMap::new(),
            next_id: 1,
        };
        t.by_id.insert(0, (String::new(), 0));
        t.by_name.insert(String::new(), 0);
        t
    }
}

impl NamespaceTable {
    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn next_id(&self) -> u32 {
        self.next_id
    }

    pub(crate) fn set_next_id(&mut self, id: u32) {
        self.next_id = self.next_id.max(id);
    }

    /// Records a creation (from the write path or a replayed frame).
    pub(crate) fn create(&mut self, id: u32, name: &[u8], offset: u64) -> Result<(), Corruption> {
        let name = std::str::from_utf8(name).map_err(|_| Corruption::BadNamespace)?;
        if id == 0
            || name.is_empty()
            || self.by_id.contains_key(&id)
            || self.by_name.contains_key(name)
        {
            return Err(Corruption::BadNamespace);
        }
        self.by_id.insert(id, (name.to_owned(), offset));
        self.by_name.insert(name.to_owned(), id);
        self.next_id = self.next_id.max(id.saturating_add(1));
        Ok(())
    }

    /// Records a drop.
    pub(crate) fn drop_id(&mut self, id: u32) -> Result<(), Corruption> {
        if id == 0 {
            return Err(Corruption::BadNamespace);
        }
        let name = self
            .by_id
            .remove(&id)
            .ok_or(Corruption::UnknownNamespace(id))?;
        self.by_name.remove(&name.0);
        Ok(())
    }

    /// Every namespace, default first, then in creation order.
    pub(crate) fn list(&self) -> Vec<(u32, String)> {
        self.by_id
            .iter()
            .map(|(id, (n, _))| (*id, n.clone()))
            .collect()
    }

    /// Every namespace as `(id, offset of its creating entry)`.
    pub(crate) fn creations(&self) -> Vec<(u32, u64)> {
        self.by_id
            .iter()
            .map(|(id, (_, off))| (*id, *off))
            .collect()
    }

    /// Named namespaces (the default excluded).
    pub(crate) fn named_count(&self) -> usize {
        self.by_id.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_drop_and_order() {
        let mut t = NamespaceTable::default();
        t.create(5, b"b", 4096).unwrap();
        t.create(2, b"a", 4200).unwrap();
        assert_eq!(t.next_id(), 6);
        assert_eq!(
            t.list().iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["", "a", "b"]
        );
        assert_eq!(t.create(7, b"a", 1), Err(Corruption::BadNamespace));
        assert_eq!(t.create(0, b"x", 1), Err(Corruption::BadNamespace));
        assert_eq!(t.create(8, &[0xff], 1), Err(Corruption::BadNamespace));
        t.drop_id(2).unwrap();
        assert_eq!(t.id("a"), None);
        assert_eq!(t.drop_id(2), Err(Corruption::UnknownNamespace(2)));
        assert_eq!(t.drop_id(0), Err(Corruption::BadNamespace));
        assert_eq!(t.named_count(), 1);
    }
}
