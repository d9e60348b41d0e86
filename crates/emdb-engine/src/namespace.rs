//! The namespace registry: names and ids, in creation order.
//!
//! Id 0 is the default namespace, named `""`, which always exists and is never written to the
//! log. Named namespaces get increasing ids that are never reused while the process runs, so a
//! dropped namespace's records can never be confused with a later one of the same name.

use std::collections::{BTreeMap, HashMap};

use crate::error::Corruption;

#[derive(Debug, Clone)]
pub(crate) struct NamespaceTable {
    by_id: BTreeMap<u32, String>,
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
        t.by_id.insert(0, String::new());
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
    pub(crate) fn create(&mut self, id: u32, name: &[u8]) -> Result<(), Corruption> {
        let name = std::str::from_utf8(name).map_err(|_| Corruption::BadNamespace)?;
        if id == 0
            || name.is_empty()
            || self.by_id.contains_key(&id)
            || self.by_name.contains_key(name)
        {
            return Err(Corruption::BadNamespace);
        }
        self.by_id.insert(id, name.to_owned());
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
        self.by_name.remove(&name);
        Ok(())
    }

    /// Every namespace, default first, then in creation order.
    pub(crate) fn list(&self) -> Vec<(u32, String)> {
        self.by_id.iter().map(|(id, n)| (*id, n.clone())).collect()
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
        t.create(5, b"b").unwrap();
        t.create(2, b"a").unwrap();
        assert_eq!(t.next_id(), 6);
        assert_eq!(
            t.list().iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["", "a", "b"]
        );
        assert_eq!(t.create(7, b"a"), Err(Corruption::BadNamespace));
        assert_eq!(t.create(0, b"x"), Err(Corruption::BadNamespace));
        assert_eq!(t.create(8, &[0xff]), Err(Corruption::BadNamespace));
        t.drop_id(2).unwrap();
        assert_eq!(t.id("a"), None);
        assert_eq!(t.drop_id(2), Err(Corruption::UnknownNamespace(2)));
        assert_eq!(t.drop_id(0), Err(Corruption::BadNamespace));
        assert_eq!(t.named_count(), 1);
    }
}
