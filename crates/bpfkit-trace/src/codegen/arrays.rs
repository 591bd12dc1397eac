//! Fixed-size integer arrays as values: casts such as `(int8[4])x`, `(uint8[])"hello"` and
//! `(bool[2])(uint16)1` reinterpret the bytes of their operand (arrays keep their C layout,
//! see [`super::layout::elem_size`]), and `a[i]` reads one element.

use super::addrof::in_register;
use super::layout::elem_size;
use super::*;

/// The largest array value a cast makes.
const MAX_ARRAY_BYTES: u32 = 1 << 16;

impl Gen<'_, '_> {
    /// `(T[N])x` / `(T[])x`: the bytes of `x` as an array, its length as the checker says.
    pub(super) fn array_cast(&mut self, e: &Expr, x: &Expr) -> R<Val> {
        let t = self.checked_type(e);
        let Type::Array(elem, n) = &t else {
            return Err(unsupported(e.span, "this array cast"));
        };
        let bytes = elem_size(elem).saturating_mul(u32::try_from(*n).unwrap_or(u32::MAX));
        if bytes > MAX_ARRAY_BYTES {
            return Err(Diagnostic::error(
                e.span,
                format!("arrays of more than {MAX_ARRAY_BYTES} bytes are not supported"),
            ));
        }
        let room = pad8(bytes.max(8));
        let (buf, _) = self.alloc(room);
        self.zero(buf, room);
        match self.expr(x)? {
            Val::Int(v, _) => self.emit(Op::Store(Size::DW, buf, 0, Src::V(v))),
            Val::Mem(p, st) => {
                let m = size_of(&st).min(bytes);
                self.memcpy(buf, p, m);
            }
            Val::Void => return Err(Diagnostic::error(x.span, "value has no type")),
        }
        Ok(Val::Mem(buf, t))
    }

    /// `(uintN)a` of an array value: its first bytes as an integer of the target's width.
    pub(super) fn array_to_int(&mut self, e: &Expr, x: &Expr) -> R<Val> {
        let (bits, signed) = match self.checked_type(e) {
            Type::Int { bits, signed } => (bits, signed),
            _ => (64, false),
        };
        let (p, bytes) = match self.expr(x)? {
            Val::Mem(p, t @ Type::Array(..)) => (p, elem_size(&t)),
            Val::Int(v, s) => return Ok(Val::Int(v, s)),
            _ => return Err(unsupported(e.span, "this cast")),
        };
        let n = u32::from(bits / 8).min(bytes).max(1);
        let ct = Type::Int {
            bits: (n * 8) as u8,
            signed,
        };
        let v = if matches!(n, 1 | 2 | 4 | 8) {
            self.load_member(p, &ct, None)
        } else {
            self.load_member(p, &ct, Some((0, (n * 8) as u8)))
        };
        Ok(Val::Int(v, signed))
    }

    /// `a[i]` of an array value.
    pub(super) fn array_index(&mut self, e: &Expr, x: &Expr, i: &Expr) -> R<Val> {
        let (p, elem, n) = match self.expr(x)? {
            Val::Mem(p, Type::Array(elem, n)) => (p, *elem, n),
            Val::Int(p, _) => return self.pointer_index(e, p, i),
            _ => return Err(unsupported(e.span, "indexing this value")),
        };
        let es = elem_size(&elem);
        let q = self.copy(p);
        let out = self.imm(0);
        let done = self.l();
        match const_eval(i) {
            Some(k) => {
                if k < 0 || k as u64 >= n {
                    return Err(Diagnostic::error(
                        i.span,
                        format!("the index {k} is out of bounds for array of size {n}"),
                    ));
                }
                let off = u64::try_from(k)
                    .ok()
                    .and_then(|k| k.checked_mul(u64::from(es)))
                    .and_then(|o| i32::try_from(o).ok())
                    .ok_or_else(|| Diagnostic::error(i.span, "array index too large"))?;
                self.alu(AluOp::Add, q, Src::Imm(off));
            }
            None => {
                // Out of range reads 0; the check also bounds the offset for the verifier.
                let k = self.int(i)?;
                let k = self.copy(k);
                let lim = self.imm(i64::try_from(n).unwrap_or(i64::MAX));
                self.emit(Op::Br(JmpOp::Ge, k, Src::V(lim), done));
                self.alu(AluOp::Mul, k, Src::Imm(es as i32));
                self.alu(AluOp::Add, q, Src::V(k));
            }
        }
        if !in_register_elem(&elem) {
            self.emit(Op::Label(done));
            return Ok(Val::Mem(q, elem));
        }
        let v = self.load_member(q, &elem, None);
        self.emit(Op::Mov(out, v));
        self.emit(Op::Label(done));
        if elem == Type::Bool {
            self.bools.insert(out);
        }
        Ok(Val::Int(out, signed_of(&elem)))
    }
}

impl Gen<'_, '_> {
    /// `p[i]` of a pointer: the element `i` places after `p`, read as the checker typed it.
    fn pointer_index(&mut self, e: &Expr, p: V, i: &Expr) -> R<Val> {
        let t = self.checked_type(e);
        let es = match &t {
            Type::Int { .. } | Type::Bool | Type::Enum(_) => elem_size(&t),
            Type::Unknown => 8,
            t if !in_register(t) => size_of(t),
            _ => 8,
        };
        let k = self.int(i)?;
        let addr = self.copy(k);
        self.alu(AluOp::Mul, addr, Src::Imm(es as i32));
        self.alu(AluOp::Add, addr, Src::V(p));
        self.read_at(addr, &t)
    }

    /// A tracepoint field that is an array of `n` integers (`long args[6]`), `size` bytes at
    /// offset `off` of the record, copied as an array value; `None` for other layouts.
    pub(super) fn tp_array(&mut self, off: i16, size: u32, elem: &Type, n: u64) -> Option<Val> {
        let n32 = u32::try_from(n).ok().filter(|&n| n > 0)?;
        let es = size / n32;
        if !matches!(es, 1 | 2 | 4 | 8) || es * n32 != size || size > 4096 {
            return None;
        }
        let et = match elem {
            Type::Int { signed, .. } => Type::Int {
                bits: (es * 8) as u8,
                signed: *signed,
            },
            Type::Bool if es == 1 => Type::Bool,
            _ => return None,
        };
        let (buf, _) = self.alloc(size);
        let src = self.copy(self.ctx);
        self.alu(AluOp::Add, src, Src::Imm(i32::from(off)));
        self.call(
            h::PROBE_READ_KERNEL,
            vec![Arg::V(buf), Arg::Imm(i64::from(size)), Arg::V(src)],
        );
        Some(Val::Mem(buf, Type::Array(Box::new(et), n)))
    }

    /// A kernel struct's array member of `n` integers (BTF type `elem`) at `addr`, copied as
    /// an array value; `None` for other element types or sizes.
    pub(super) fn kernel_int_array(
        &mut self,
        btf: &Btf,
        elem: u32,
        n: u32,
        addr: V,
    ) -> Option<Val> {
        let t = btf.type_by_id(elem).ok()?;
        let es = match (t.kind, t.size()) {
            (Kind::Int | Kind::Enum, Some(s @ (1 | 2 | 4 | 8))) => s,
            _ => return None,
        };
        let bytes = es.checked_mul(n).filter(|b| (1..=4096).contains(b))?;
        let signed = matches!(&t.detail, Detail::Int(i) if i.is_signed());
        let et = Type::Int {
            bits: (es * 8) as u8,
            signed,
        };
        let (buf, _) = self.alloc(bytes);
        self.zero(buf, bytes);
        self.call(
            h::PROBE_READ,
            vec![Arg::V(buf), Arg::Imm(i64::from(bytes)), Arg::V(addr)],
        );
        Some(Val::Mem(buf, Type::Array(Box::new(et), u64::from(n))))
    }
}

impl Gen<'_, '_> {
    /// 1 when the first `n` bytes at `a` and `b` are equal (NULs included), else 0.
    pub(super) fn bytes_equal(&mut self, a: V, b: V, n: u32) -> V {
        let r = self.imm(0);
        let out = self.l();
        let (x, y) = (self.v(), self.v());
        let mut o = 0u32;
        while o < n.min(4096) {
            let (sz, w) = if n - o >= 8 {
                (Size::DW, 8)
            } else {
                (Size::B, 1)
            };
            self.emit(Op::Load(sz, x, a, o as i16));
            self.emit(Op::Load(sz, y, b, o as i16));
            self.emit(Op::Br(JmpOp::Ne, x, Src::V(y), out));
            o += w;
        }
        self.emit(Op::Imm(r, 1));
        self.emit(Op::Label(out));
        r
    }
}

fn in_register_elem(t: &Type) -> bool {
    !is_memory(t) && !matches!(t, Type::Record(_))
}
