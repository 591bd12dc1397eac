//! Reading what fentry/fexit and iterator programs get: `args.NAME` and `retval` from the
//! context array of a tracing program (one 8-byte slot per parameter in BTF order, the
//! return value after them), pointers to structs typed through BTF so `->` follows them,
//! and `ctx` of an iterator typed as its `struct bpf_iter__<name>`, whose object pointer is
//! NULL on the last call (that call does nothing).

use super::*;

impl Gen<'_, '_> {
    /// Reads the 8-byte context slot `idx` (a copy through `probe_read`, so pointer
    /// arguments become plain values the script may store anywhere), typed by BTF id `ty`.
    fn tracing_slot(&mut self, idx: usize, ty: u32, span: Span) -> R<Val> {
        let btf = match self.res.point {
            Point::Fentry {
                module: Some(ref m),
                ..
            } => crate::kernel_probes::module_btf(m)
                .map(|mb| std::sync::Arc::new(mb.btf))
                .map_err(|x| Diagnostic::error(span, x))?,
            _ => {
                bpfkit::attach::vmlinux_btf().map_err(|x| Diagnostic::error(span, x.to_string()))?
            }
        };
        // Struct member access reads vmlinux's types: a module's own struct stays untyped.
        let vmlinux_len = bpfkit::attach::vmlinux_btf().map_or(0, |b| b.start_id() + b.len());
        let addr = self.copy(self.ctx);
        self.alu(AluOp::Add, addr, Src::Imm((idx * 8) as i32));
        let v = self.read_kernel(addr, 8);
        let rt = btf.resolve_type(ty).unwrap_or(ty);
        let Ok(t) = btf.type_by_id(rt) else {
            return Ok(Val::Int(v, false));
        };
        match (&t.kind, &t.detail) {
            (Kind::Ptr, _) => {
                let pointee = t
                    .referenced()
                    .and_then(|r| btf.resolve_type(r).ok())
                    .unwrap_or(0);
                if pointee < vmlinux_len
                    && btf
                        .type_by_id(pointee)
                        .is_ok_and(|x| matches!(x.kind, Kind::Struct | Kind::Union))
                {
                    self.kptr.insert(v, pointee);
                }
                Ok(Val::Int(v, false))
            }
            (Kind::Int, Detail::Int(i)) if i.is_signed() => {
                let size = t.size().unwrap_or(8).min(8);
                if size < 8 {
                    let sh = 64 - 8 * size as i32;
                    self.alu(AluOp::Lsh, v, Src::Imm(sh));
                    self.alu(AluOp::Arsh, v, Src::Imm(sh));
                }
                Ok(Val::Int(v, true))
            }
            (Kind::Int | Kind::Enum | Kind::Enum64, _) => {
                let size = t.size().unwrap_or(8).min(8);
                if size < 8 {
                    self.alu(AluOp::Lsh, v, Src::Imm(64 - 8 * size as i32));
                    self.alu(AluOp::Rsh, v, Src::Imm(64 - 8 * size as i32));
                }
                Ok(Val::Int(v, false))
            }
            _ => Ok(Val::Int(v, false)),
        }
    }

    /// `args.NAME` in an fentry/fexit probe; `None` in other probes.
    pub(super) fn fentry_arg(&mut self, field: &Name) -> Option<R<Val>> {
        let Point::Fentry {
            module, function, ..
        } = &self.res.point
        else {
            return None;
        };
        let (module, function) = (module.clone(), function.clone());
        let r = crate::kernel_probes::function_params(module.as_deref(), &function)
            .map_err(|m| Diagnostic::error(field.span, m))
            .and_then(|(params, _)| {
                let (idx, ty) = params
                    .iter()
                    .enumerate()
                    .find(|(_, (n, _))| *n == field.name)
                    .map(|(i, (_, t))| (i, *t))
                    .ok_or_else(|| {
                        Diagnostic::error(
                            field.span,
                            format!("Can't find function parameter {}", field.name),
                        )
                    })?;
                self.tracing_slot(idx, ty, field.span)
            });
        Some(r)
    }

    /// `retval` in an fexit probe; `None` in other probes.
    pub(super) fn fexit_retval(&mut self, span: Span) -> Option<R<Val>> {
        let Point::Fentry {
            module,
            function,
            ret: true,
        } = &self.res.point
        else {
            return None;
        };
        let (module, function) = (module.clone(), function.clone());
        let r = crate::kernel_probes::function_params(module.as_deref(), &function)
            .map_err(|m| Diagnostic::error(span, m))
            .and_then(|(params, ret)| self.tracing_slot(params.len(), ret, span));
        Some(r)
    }

    /// `ctx` in an iterator probe: the context, typed as `struct bpf_iter__<name>`.
    pub(super) fn iter_ctx(&mut self) -> Option<Val> {
        let Point::Iter { name } = &self.res.point else {
            return None;
        };
        let id = crate::kernel_probes::iter_context(name);
        let v = self.copy(self.ctx);
        if let Some(id) = id {
            self.kptr.insert(v, id);
        }
        Some(Val::Int(v, false))
    }

    /// The start of an iterator program: the call after the last object (its object
    /// pointer, the context's second member, is NULL) returns at once.
    pub(super) fn iter_prologue(&mut self) {
        if let Point::Iter { .. } = self.res.point {
            let v = self.v();
            self.emit(Op::Load(Size::DW, v, self.ctx, 8));
            let l = self.exit_label;
            self.emit(Op::Br(JmpOp::Eq, v, Src::Imm(0), l));
        }
    }
}
