//! Kernel-side builtins that need no map or runtime support: `ncpus`, `numaid`, `ctx`,
//! `usermode`, `kaddr("sym")` (resolved from /proc/kallsyms when the script compiles) and
//! `ppid(task)`.

use super::*;

/// Offset of `cs` in x86-64 `struct pt_regs` (the 18th 8-byte slot); its low two bits are the
/// privilege level the probed code ran at.
const PT_REGS_CS: i16 = 17 * 8;

/// Number of CPUs this machine can bring up, from sysfs (`0-3` style ranges), falling back to
/// what the scheduler lets this process use.
pub(super) fn possible_cpus() -> i64 {
    let from_sysfs = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            let mut n = 0i64;
            for part in s.trim().split(',') {
                let (a, b) = match part.split_once('-') {
                    Some((a, b)) => (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?),
                    None => {
                        let x = part.parse::<i64>().ok()?;
                        (x, x)
                    }
                };
                n += b - a + 1;
            }
            (n > 0).then_some(n)
        });
    from_sysfs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as i64))
}

/// Address of the kernel symbol `name` in /proc/kallsyms (the first entry of that name).
pub(super) fn kallsyms_addr(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        let addr = it.next()?;
        let _kind = it.next()?;
        (it.next()? == name)
            .then(|| u64::from_str_radix(addr, 16).ok())
            .flatten()
    })
}

impl Gen<'_, '_> {
    /// Generates one of this module's functions; `None` when `name` is not one of them.
    pub(super) fn kernel_call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> Option<R<Val>> {
        match name {
            "kaddr" => {
                let sym = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Str(s)) => String::from_utf8_lossy(s).into_owned(),
                    _ => {
                        return Some(Err(Diagnostic::error(
                            e.span,
                            "kaddr() expects a string literal",
                        )))
                    }
                };
                Some(match kallsyms_addr(&sym) {
                    Some(a) => Ok(Val::Int(self.imm(a as i64), false)),
                    None => Err(Diagnostic::error(
                        e.span,
                        format!("Failed to resolve kernel symbol: {sym}"),
                    )),
                })
            }
            "ppid" => Some(self.ppid(e, args)),
            _ => self.kfuncs2(e, name, args),
        }
    }

    /// `ppid(task)` / `ppid()`: `task->real_parent->tgid`, with the offsets from the kernel's BTF.
    fn ppid(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let no_btf = || Diagnostic::error(e.span, "ppid() needs the kernel's BTF for task_struct");
        let btf = bpfkit::attach::vmlinux_btf().map_err(|_| no_btf())?;
        let task = btf
            .find_by_name_kind("task_struct", Kind::Struct)
            .ok_or_else(no_btf)?;
        let parent = access::find_member(&btf, task, "real_parent", 0).ok_or_else(no_btf)?;
        let tgid = access::find_member(&btf, task, "tgid", 0).ok_or_else(no_btf)?;
        // No argument: the current task.
        let t = match args.first() {
            Some(a) => self.int(a)?,
            None => self.call(h::GET_CURRENT_TASK, vec![]),
        };
        self.alu(AluOp::Add, t, Src::Imm((parent.0 / 8) as i32));
        let p = self.read_kernel(t, 8);
        self.alu(AluOp::Add, p, Src::Imm((tgid.0 / 8) as i32));
        let v = self.read_kernel(p, 4);
        // pid_t is signed.
        self.alu(AluOp::Lsh, v, Src::Imm(32));
        self.alu(AluOp::Arsh, v, Src::Imm(32));
        Ok(Val::Int(v, true))
    }

    /// Generates one of this module's builtins; `None` when `name` is not one of them.
    pub(super) fn kernel_builtin(&mut self, name: &str, span: Span) -> Option<R<Val>> {
        let v = match name {
            "ncpus" => self.imm(possible_cpus()),
            "numaid" => self.call(h::GET_NUMA_NODE_ID, vec![]),
            "ctx" => self.copy(self.ctx),
            "usermode" => match self.res.point {
                // begin and end run from bpfkit's own process, in user mode.
                Point::Begin | Point::End | Point::Bench { .. } => self.imm(1),
                Point::Kprobe { .. } | Point::Uprobe { .. } | Point::Perf { .. } => {
                    let v = self.v();
                    self.emit(Op::Load(Size::DW, v, self.ctx, PT_REGS_CS));
                    self.alu(AluOp::And, v, Src::Imm(3));
                    let one = self.imm(1);
                    let l = self.l();
                    self.emit(Op::Br(JmpOp::Eq, v, Src::Imm(3), l));
                    self.emit(Op::Imm(one, 0));
                    self.emit(Op::Label(l));
                    one
                }
                _ => {
                    return Some(Err(Diagnostic::error(
                        span,
                        "usermode is not available in this probe",
                    )))
                }
            },
            _ => return None,
        };
        Some(Ok(Val::Int(v, false)))
    }
}
