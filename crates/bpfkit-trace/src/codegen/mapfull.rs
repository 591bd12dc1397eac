//! Failed map updates: a hash map at its capacity refuses a new key with `-E2BIG`. Each
//! update site of a hash map owns an 8-byte slot of the internal array map
//! [`MAP_FULL_MAP`]; a refused update ORs the site's warning format id + 1 into its slot,
//! without a branch (a branch per update would make loops that update maps hit the
//! verifier's limit on pending branches sooner). The runtime polls the slots and prints
//! bpftrace's `WARNING: Map full; can't update element` for each site found set.

use super::*;
use strfuncs::DIAG_MARK;

/// Name of the internal map of update-site slots.
pub const MAP_FULL_MAP: &str = "mapfull";

/// `-E2BIG`, what `bpf_map_update_elem` returns when a hash map is full.
const E2BIG: i32 = -7;

impl Gen<'_, '_> {
    /// Index of the slot map, created on first use, grown by one slot.
    fn map_full_slot(&mut self) -> (i32, u32) {
        let i = match self.cx.maps.iter().position(|m| m.name == MAP_FULL_MAP) {
            Some(i) => i,
            None => {
                self.cx.maps.push(MapDef {
                    name: MAP_FULL_MAP.into(),
                    map_type: MapType::Array,
                    key: None,
                    key_size: 4,
                    value: ValueKind::Plain(Type::None),
                    value_size: 0,
                    max_entries: 1,
                });
                self.cx.maps.len() - 1
            }
        };
        let off = match self.cx.maps.get_mut(i) {
            Some(m) => {
                m.value_size += 8;
                m.value_size - 8
            }
            None => 0,
        };
        (i as i32, off)
    }

    /// `bpf_map_update_elem(map, key, value, flags)`, recording a full map.
    pub(super) fn update_checked(&mut self, mi: i32, k: V, val: V, flags: i64) {
        let r = self.call(
            h::MAP_UPDATE_ELEM,
            vec![Arg::Map(mi), Arg::V(k), Arg::V(val), Arg::Imm(flags)],
        );
        let can_fill = matches!(
            self.cx.maps.get(mi as usize).map(|m| m.map_type),
            Some(MapType::Hash | MapType::PercpuHash)
        );
        if !can_fill {
            return;
        }
        let span = self.span;
        let fmt = format!(
            "{DIAG_MARK}WARNING {} {}{DIAG_MARK}Map full; can't update element\nAdditional Info - helper: map_update_elem, retcode: {E2BIG}\n",
            span.start, span.end
        );
        let id = self.cx.format(fmt, Vec::new());
        let (slots, off) = self.map_full_slot();
        // full = (r == -E2BIG): t = r + 7 is 0 exactly then; (t | -t) >> 63 is 1 otherwise.
        let t = self.copy(r);
        self.alu(AluOp::Add, t, Src::Imm(-E2BIG));
        let u = self.copy(t);
        self.emit(Op::Neg(u));
        self.alu(AluOp::Or, u, Src::V(t));
        self.alu(AluOp::Rsh, u, Src::Imm(63));
        self.alu(AluOp::Xor, u, Src::Imm(1));
        self.alu(AluOp::Mul, u, Src::Imm((id + 1) as i32));
        let p = self.v();
        self.emit(Op::MapValue(p, slots, off));
        let cur = self.v();
        self.emit(Op::Load(Size::DW, cur, p, 0));
        self.alu(AluOp::Or, cur, Src::V(u));
        self.emit(Op::Store(Size::DW, p, 0, Src::V(cur)));
    }
}
