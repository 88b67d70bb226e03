//! The shape of an open wire code: a newtype over the raw value with named constants, so a
//! value nobody here knows (a newer peer, a corrupted message) survives decode → encode
//! unchanged. Used for [`FailoverState`](crate::FailoverState) here and for the failover
//! protocol's own codes in `dhcp-failover`.

/// Defines an open enum: `pub struct $name(pub $repr)` with named constants, `ALL`, `name()`,
/// `is_known()`, `get()`, `Display` (the name, or `unknown_fmt` with the number), `Debug` and
/// conversions from and to the raw value. `no_std`, allocation-free.
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty), unknown_fmt = $unk:literal {
            $( $(#[$cmeta:meta])* $konst:ident = $val:expr, $text:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* #[doc = concat!("`", stringify!($val), "` = ", $text)] pub const $konst: $name = $name($val); )*

            /// Every named value, in numeric order.
            pub const ALL: &'static [$name] = &[ $( $name($val) ),* ];

            /// The name, or `None` for a value without a name.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }

            /// True when the value has a named constant.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }

            /// The raw wire value.
            pub const fn get(self) -> $repr {
                self.0
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, $unk, self.0),
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({}={})", stringify!($name), n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}
