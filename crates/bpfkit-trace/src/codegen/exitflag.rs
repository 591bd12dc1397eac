//! The kernel-side exit flag: `exit()` sets word 0 of a one-element array map, and every
//! probe but `begin`/`end` reads it first and returns at once when it is set. Without it, a
//! probe could fire again between `exit()` and the detach in user space (an `interval`
//! probe runs a few more times, a tracepoint sees more events), which makes a script's final
//! maps depend on timing.

use super::*;

/// Name of the internal exit-flag map.
pub const EXIT_FLAG_MAP: &str = "exitflag";

impl Gen<'_, '_> {
    /// Index of the exit-flag map, created on first use.
    fn exit_flag_map(&mut self) -> i32 {
        if let Some(i) = self.cx.maps.iter().position(|m| m.name == EXIT_FLAG_MAP) {
            return i as i32;
        }
        self.cx
            .maps
            .push(MapDef::one_u64(EXIT_FLAG_MAP, MapType::Array));
        (self.cx.maps.len() - 1) as i32
    }

    /// At a probe's start: leave when `exit()` already ran (not in `begin`/`end`/`bench`,
    /// which user space runs itself, `end` after `exit()` by design).
    pub(super) fn exit_flag_check(&mut self) {
        if matches!(
            self.res.point,
            Point::Begin | Point::End | Point::Bench { .. }
        ) {
            return;
        }
        let mi = self.exit_flag_map();
        let p = self.v();
        self.emit(Op::MapValue(p, mi, 0));
        let f = self.v();
        self.emit(Op::Load(Size::DW, f, p, 0));
        let l = self.exit_label;
        self.emit(Op::Br(JmpOp::Ne, f, Src::Imm(0), l));
    }

    /// `exit(code)`: sets the flag so no probe runs its body again. The word holds 1 in its
    /// low half and the exit code in its high half, so user space can still stop with the
    /// right status when a full ring buffer dropped the `exit` record.
    pub(super) fn exit_flag_set(&mut self, code: V) {
        let mi = self.exit_flag_map();
        let w = self.copy(code);
        self.alu(AluOp::Lsh, w, Src::Imm(32));
        self.alu(AluOp::Or, w, Src::Imm(1));
        let p = self.v();
        self.emit(Op::MapValue(p, mi, 0));
        self.emit(Op::Store(Size::DW, p, 0, Src::V(w)));
    }
}
