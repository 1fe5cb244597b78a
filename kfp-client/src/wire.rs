//! Serde helpers for the quirks of KFP's JSON: int64 as string or number, enums as name or number.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

/// int64 fields: the server emits `"3"`, the SDK sends `3`; both are accepted. We send numbers, as the SDK does.
pub(crate) mod int64 {
    use super::*;

    // serde's `serialize_with` hands the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub(crate) fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(*value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        deserializer.deserialize_any(Int64Visitor)
    }

    struct Int64Visitor;

    impl Visitor<'_> for Int64Visitor {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an int64 as a JSON number or string")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} does not fit an int64")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            // jsonpb accepts integral floats such as `3.0`.
            #[allow(clippy::cast_possible_truncation)]
            if v.fract() == 0.0 && v >= i64::MIN as f64 && v <= i64::MAX as f64 {
                Ok(v as i64)
            } else {
                Err(E::custom(format!("{v} is not an integer")))
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::custom(format!("{v:?} is not an int64")))
        }

        fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }
    }
}

/// int64 lists (`long_values.values`), each element a string or a number.
pub(crate) mod int64_vec {
    use super::*;
    use serde::Serialize;

    #[derive(Deserialize)]
    struct Item(#[serde(with = "super::int64")] i64);

    pub(crate) fn serialize<S: Serializer>(
        values: &[i64],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        values.serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<i64>, D::Error> {
        let items: Option<Vec<Item>> = Option::deserialize(deserializer)?;
        Ok(items
            .unwrap_or_default()
            .into_iter()
            .map(|Item(v)| v)
            .collect())
    }
}

/// `null` for a field that has a default: jsonpb skips nulls, so do we.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Defines a protobuf enum as it appears on the wire: serialized as its name, deserialized from its name or its
/// number. Unknown names or numbers become the first (zero) variant rather than failing the whole response, so a
/// newer server's additions do not break listing.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($num:expr, $wire:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            #[default]
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The name used on the wire, e.g. `"EXPERIMENT"`.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $wire, )+ }
            }

            /// The protobuf enum number.
            pub fn number(self) -> i32 {
                match self { $( Self::$variant => $num, )+ }
            }

            /// Parses a wire name (exact, as the server emits it).
            pub fn from_wire_name(name: &str) -> Option<Self> {
                match name { $( $wire => Some(Self::$variant), )+ _ => None }
            }

            /// Maps a protobuf enum number to the variant.
            pub fn from_number(number: i64) -> Option<Self> {
                $( if number == $num { return Some(Self::$variant); } )+
                None
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name or number"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_wire_name(v).unwrap_or_default())
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        Ok($name::from_number(v).unwrap_or_default())
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        Ok(i64::try_from(v).ok().and_then($name::from_number).unwrap_or_default())
                    }
                    fn visit_unit<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

pub(crate) use wire_enum;
