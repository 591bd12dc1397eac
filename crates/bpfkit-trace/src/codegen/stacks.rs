//! `kstack` / `ustack`: `bpf_get_stackid` into a stack-trace map, as one 8-byte value that
//! user space symbolises when it prints it (see `runtime::stacks` for the bit layout).

use super::*;

/// Name of the internal stack-trace map.
pub const STACK_MAP: &str = "stacks";
/// Frames kept per stack (the kernel's default `perf_event_max_stack`).
pub const MAX_FRAMES: u32 = 127;
/// `BPF_F_USER_STACK`.
const USER_STACK: i64 = 1 << 8;

impl Gen<'_, '_> {
    /// Index of the stack-trace map, created on first use.
    fn stack_map(&mut self) -> i32 {
        if let Some(i) = self.cx.maps.iter().position(|m| m.name == STACK_MAP) {
            return i as i32;
        }
        self.cx.maps.push(MapDef {
            name: STACK_MAP.into(),
            map_type: MapType::StackTrace,
            key: None,
            key_size: 4,
            value: ValueKind::Plain(Type::None),
            value_size: MAX_FRAMES * 8,
            max_entries: 4096,
        });
        (self.cx.maps.len() - 1) as i32
    }

    /// `kstack`, `ustack`, with optional mode (`perf`, `raw`, `bpftrace`) and frame limit.
    pub(super) fn stack_value(&mut self, kernel: bool, args: &[Expr]) -> R<Val> {
        let mut mode = match self.cx.checked.config.get("stack_mode") {
            Some(crate::check::ConfigValue::Str(s)) => mode_code(s).unwrap_or(0),
            _ => 0,
        };
        let mut limit = 0i64;
        for a in args {
            match &a.kind {
                ExprKind::Ident(m) => {
                    mode = mode_code(m)
                        .ok_or_else(|| Diagnostic::error(a.span, "unknown stack mode"))?;
                }
                _ => {
                    limit = const_eval(a)
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| {
                            Diagnostic::error(a.span, "the stack limit must be a constant")
                        })?
                        .min(i64::from(MAX_FRAMES));
                }
            }
        }
        let mi = self.stack_map();
        let flags = if kernel { 0 } else { USER_STACK };
        let id = self.call(
            h::GET_STACKID,
            vec![Arg::V(self.ctx), Arg::Map(mi), Arg::Imm(flags)],
        );
        let ok = self.l();
        self.emit(Op::Br(JmpOp::Sge, id, Src::Imm(0), ok));
        self.emit(Op::Imm(id, 0xffff));
        self.emit(Op::Label(ok));
        self.alu(AluOp::And, id, Src::Imm(0xffff));
        self.alu(
            AluOp::Or,
            id,
            Src::Imm(((limit << 16) | (mode << 24)) as i32),
        );
        if !kernel {
            let pid = self.call(h::GET_CURRENT_PID_TGID, vec![]);
            self.alu(AluOp::Rsh, pid, Src::Imm(32));
            self.alu(AluOp::Lsh, pid, Src::Imm(32));
            self.alu(AluOp::Or, id, Src::V(pid));
        }
        self.stacks.insert(id, kernel);
        Ok(Val::Int(id, false))
    }
}

/// The number of a stack mode in the value's mode bits.
fn mode_code(m: &str) -> Option<i64> {
    match m {
        "bpftrace" => Some(0),
        "perf" => Some(1),
        "raw" => Some(2),
        _ => None,
    }
}
