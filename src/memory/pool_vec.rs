//! `PoolVec<T>`: a growable array in a manager's pool (amortised doubling), for data whose final
//! size is not known in advance, such as the entries of a sparse matrix being assembled.

use super::buffer::PoolBuffer;
use super::manager::MemoryManager;
use super::pool_kind::PoolElement;
use crate::error::Result;

/// Smallest capacity a `PoolVec` allocates.
const MIN_CAPACITY: usize = 1024;

/// A growable vector of `T` in `T`'s pool, tagged like every other allocation.
pub struct PoolVec<T: PoolElement> {
    buffer: Option<PoolBuffer<T>>,
    len: usize,
    manager: MemoryManager,
    tag: String,
}

impl<T: PoolElement> PoolVec<T> {
    /// An empty vector; nothing is allocated until the first push.
    pub fn new(manager: &MemoryManager, tag: &str) -> Self {
        Self {
            buffer: None,
            len: 0,
            manager: manager.clone(),
            tag: tag.to_string(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements the current block can hold.
    pub fn capacity(&self) -> usize {
        self.buffer.as_ref().map_or(0, |b| b.len())
    }

    /// Appends `value`, growing the block (×2) when full. On failure (limit, memory) the vector
    /// is unchanged.
    pub fn push(&mut self, value: T) -> Result<()> {
        self.reserve(1)?;
        let buffer = self.buffer.as_mut().expect("reserved above");
        buffer[self.len] = value;
        self.len += 1;
        Ok(())
    }

    /// Makes room for `additional` more elements (growing ×2 at least), so that that many pushes
    /// cannot fail. On failure the vector is unchanged.
    pub fn reserve(&mut self, additional: usize) -> Result<()> {
        let needed = self.len.checked_add(additional).ok_or_else(|| {
            crate::error::Error::invalid_argument("PoolVec capacity overflows usize")
        })?;
        if needed <= self.capacity() {
            return Ok(());
        }
        let capacity = (self.capacity().saturating_mul(2))
            .max(needed)
            .max(MIN_CAPACITY);
        let mut bigger = PoolBuffer::uninit_values(&self.manager, capacity, &self.tag)?;
        if let Some(old) = &self.buffer {
            bigger[..self.len].copy_from_slice(&old[..self.len]);
        }
        self.buffer = Some(bigger);
        Ok(())
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        self.buffer.as_ref().map_or(&[], |b| &b[..self.len])
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.buffer {
            Some(b) => &mut b[..self.len],
            None => &mut [],
        }
    }

    /// Removes every element and frees the block.
    pub fn clear(&mut self) {
        self.buffer = None;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_keeps_its_elements_in_the_pool() {
        let manager = MemoryManager::with_defaults().unwrap();
        let mut v = PoolVec::<i64>::new(&manager, "triplets");
        for i in 0..5000 {
            v.push(i).unwrap();
        }
        assert_eq!(v.len(), 5000);
        assert_eq!(v.capacity(), 8192);
        assert!(v.as_slice().iter().enumerate().all(|(i, &x)| x == i as i64));
        let tag = manager.tag_stats("triplets").unwrap();
        assert_eq!((tag.live_allocations, tag.bytes_in_use), (1, 8192 * 8));
        v.clear();
        assert_eq!(manager.tag_stats("triplets").unwrap().bytes_in_use, 0);
    }
}
