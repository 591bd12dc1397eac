//! Plain-data types that map keys and values are made of, converted to and from the bytes the
//! kernel copies, field by field through safe byte conversions.

/// A fixed-size byte array, the byte form of a [`Pod`] value.
pub trait ByteArray: AsRef<[u8]> + AsMut<[u8]> + Copy {
    /// An all-zero array.
    fn zeroed() -> Self;
}

impl<const N: usize> ByteArray for [u8; N] {
    fn zeroed() -> Self {
        [0; N]
    }
}

/// A plain-data type with a fixed native-endian byte form, usable as a map key or value.
///
/// Implemented for the integer types, `bool`-free arrays of bytes, and for your own
/// `#[repr(C)]` structs through [`impl_pod!`](crate::impl_pod). The byte form is exactly what a
/// BPF program sees: native endianness, C layout, padding zeroed (which matters for hash
/// keys: two equal structs must hash alike).
pub trait Pod: Copy {
    /// The byte form, `[u8; size_of::<Self>()]`.
    type Bytes: ByteArray;
    /// Native-endian byte form.
    fn to_bytes(&self) -> Self::Bytes;
    /// The value whose byte form is `bytes`.
    fn from_bytes(bytes: &Self::Bytes) -> Self;
    /// Size of the byte form.
    fn size() -> usize {
        std::mem::size_of::<Self::Bytes>()
    }
}

macro_rules! int_pod {
    ($($t:ty),*) => {$(
        impl Pod for $t {
            type Bytes = [u8; std::mem::size_of::<$t>()];
            fn to_bytes(&self) -> Self::Bytes {
                self.to_ne_bytes()
            }
            fn from_bytes(bytes: &Self::Bytes) -> Self {
                <$t>::from_ne_bytes(*bytes)
            }
        }
    )*};
}
int_pod!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, usize, isize);

impl<const N: usize> Pod for [u8; N] {
    type Bytes = [u8; N];
    fn to_bytes(&self) -> Self::Bytes {
        *self
    }
    fn from_bytes(bytes: &Self::Bytes) -> Self {
        *bytes
    }
}

/// Writes a field's bytes at `off` inside `out` (used by [`impl_pod!`](crate::impl_pod)).
#[doc(hidden)]
pub fn __write_field<T: Pod>(out: &mut [u8], off: usize, v: &T) {
    let b = v.to_bytes();
    let b = b.as_ref();
    if let Some(dst) = out.get_mut(off..off + b.len()) {
        dst.copy_from_slice(b);
    }
}

/// Reads a field from the bytes at `off` inside `src` (used by [`impl_pod!`](crate::impl_pod)).
#[doc(hidden)]
pub fn __read_field<T: Pod>(src: &[u8], off: usize) -> T {
    let mut b = T::Bytes::zeroed();
    let n = b.as_ref().len();
    if let Some(s) = src.get(off..off + n) {
        b.as_mut().copy_from_slice(s);
    }
    T::from_bytes(&b)
}

/// Implements [`Pod`] for a `#[repr(C)]` struct of [`Pod`] fields, listing every field.
///
/// ```
/// #[repr(C)]
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// struct Flow { saddr: u32, dport: u16, proto: u8, bytes: u64 }
/// bpfkit::impl_pod!(Flow { saddr, dport, proto, bytes });
///
/// use bpfkit::Pod;
/// let f = Flow { saddr: 1, dport: 2, proto: 3, bytes: 4 };
/// assert_eq!(Flow::from_bytes(&f.to_bytes()), f);
/// assert_eq!(Flow::size(), 16);
/// ```
///
/// Every field must be listed (the compiler checks this when it builds the struct back from
/// bytes); padding bytes are written as zero.
#[macro_export]
macro_rules! impl_pod {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $crate::Pod for $ty {
            type Bytes = [u8; ::core::mem::size_of::<$ty>()];
            fn to_bytes(&self) -> Self::Bytes {
                let mut out = [0u8; ::core::mem::size_of::<$ty>()];
                $(
                    $crate::map::pod::__write_field(
                        &mut out,
                        ::core::mem::offset_of!($ty, $field),
                        &self.$field,
                    );
                )*
                out
            }
            fn from_bytes(bytes: &Self::Bytes) -> Self {
                $ty {
                    $(
                        $field: $crate::map::pod::__read_field(
                            bytes,
                            ::core::mem::offset_of!($ty, $field),
                        ),
                    )*
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Padded {
        a: u8,
        b: u32,
        c: [u8; 3],
        d: u64,
    }
    crate::impl_pod!(Padded { a, b, c, d });

    #[test]
    fn struct_round_trip_zeroes_padding() {
        let v = Padded {
            a: 0xaa,
            b: 0x11223344,
            c: [1, 2, 3],
            d: u64::MAX - 1,
        };
        let bytes = v.to_bytes();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[1..4], &[0, 0, 0]);
        assert_eq!(&bytes[4..8], &0x11223344u32.to_ne_bytes());
        assert_eq!(&bytes[8..11], &[1, 2, 3]);
        assert_eq!(&bytes[11..16], &[0; 5]);
        assert_eq!(Padded::from_bytes(&bytes), v);
    }

    #[test]
    fn ints_are_native_endian() {
        assert_eq!(0x0102_0304u32.to_bytes(), 0x0102_0304u32.to_ne_bytes());
        assert_eq!(<i64 as Pod>::from_bytes(&(-5i64).to_ne_bytes()), -5);
        assert_eq!(<[u8; 5] as Pod>::size(), 5);
    }
}
