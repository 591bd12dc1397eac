//! Full-map warnings: the slots of `codegen`'s update-site map, polled with the lost-event
//! count; each set slot (a warning format id + 1) prints bpftrace's `WARNING: Map full;
//! can't update element` for its site, at most once a second per site, and is cleared.

use super::Runtime;
use crate::codegen::MAP_FULL_MAP;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// When each warning (by format id) was last printed.
#[derive(Debug, Default)]
pub(super) struct RateLimit {
    last: HashMap<usize, Instant>,
}

impl RateLimit {
    /// Whether warning `id` may be printed now (and if so, records that it was).
    fn allow(&mut self, id: usize) -> bool {
        let now = Instant::now();
        match self.last.get(&id) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(1) => false,
            _ => {
                self.last.insert(id, now);
                true
            }
        }
    }
}

impl Runtime<'_> {
    /// Prints the warnings of update sites that found their map full since the last call.
    pub(super) fn report_map_full(&mut self) {
        let Some(i) = self
            .compiled
            .maps
            .iter()
            .position(|m| m.name == MAP_FULL_MAP)
        else {
            return;
        };
        let Some(map) = self.maps.get(i) else {
            return;
        };
        let key = 0u32.to_ne_bytes();
        let Some(v) = map.lookup(&key).ok().flatten() else {
            return;
        };
        if v.iter().all(|&b| b == 0) {
            return;
        }
        let _ = map.update(&key, &vec![0u8; v.len()], 0);
        for c in v.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            let Some(id) = usize::try_from(u64::from_ne_bytes(w))
                .ok()
                .and_then(|x| x.checked_sub(1))
            else {
                continue;
            };
            if let Some(f) = self.compiled.formats.get(id) {
                if self.map_full.allow(id) {
                    let s = super::format::printf(&f.fmt, &[]);
                    self.write(&s);
                }
            }
        }
        self.flush();
    }
}
