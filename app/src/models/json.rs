//! JSON encodings MLflow uses that serde does not do by default: int64 fields that may
//! arrive as strings (protobuf's JSON mapping), and doubles that may be NaN or infinite
//! (written as the strings "NaN", "Infinity", "-Infinity").

use serde::{Deserialize, Deserializer, Serializer, de};

/// A scalar that arrived as a JSON string, number or bool. Numbers stay numbers, so a
/// double is not printed and parsed again on its way in.
pub enum Scalar {
    Text(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    /// The scalar as text, as MLflow reads a number sent where it wants a string.
    pub fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(v) => v.to_string(),
            Scalar::UInt(v) => v.to_string(),
            Scalar::Float(v) => v.to_string(),
            Scalar::Bool(v) => v.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Option<i64>` that accepts a JSON number, a numeric string (int64 in proto JSON and
/// every query-string value) or null.
pub mod opt_i64 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let text = match Option::<Scalar>::deserialize(d)? {
            None => return Ok(None),
            Some(Scalar::Int(v)) => return Ok(Some(v)),
            Some(other) => other.into_text(),
        };
        let text = text.trim();
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Some(v));
        }
        // Integral floats such as 5.0 are accepted, as protobuf's parser does.
        match text.parse::<f64>() {
            Ok(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Some(f as i64)),
            _ => Err(de::Error::custom(format!(
                "Invalid value '{text}': expected an integer"
            ))),
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_i64(*v),
            None => s.serialize_none(),
        }
    }
}

/// `Option<bool>` that accepts true/false as JSON or as query-string text.
pub mod opt_bool {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let Some(raw) = Option::<Scalar>::deserialize(d)? else {
            return Ok(None);
        };
        match raw.into_text().trim() {
            "true" | "True" | "1" => Ok(Some(true)),
            "false" | "False" | "0" => Ok(Some(false)),
            other => Err(de::Error::custom(format!(
                "Invalid value '{other}': expected true or false"
            ))),
        }
    }
}

/// `Option<String>` that also accepts a number (experiment ids are strings on the wire,
/// but hand-written clients send them as numbers).
pub mod opt_string {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::into_text))
    }
}

/// `Vec<String>` that accepts a list, or a single value (a query string with one
/// `run_ids=` is a single value).
pub mod string_list {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Scalar>),
        One(Scalar),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Option::<OneOrMany>::deserialize(d)? {
            None => Vec::new(),
            Some(OneOrMany::One(v)) => vec![v.into_text()],
            Some(OneOrMany::Many(v)) => v.into_iter().map(Scalar::into_text).collect(),
        })
    }
}

/// A double in MLflow's JSON: a number, or "NaN" / "Infinity" / "-Infinity".
pub mod f64_special {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if *v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        from_scalar(Scalar::deserialize(d)?).map_err(de::Error::custom)
    }

    pub(super) fn from_scalar(v: Scalar) -> Result<f64, String> {
        match v {
            Scalar::Float(v) => Ok(v),
            Scalar::Int(v) => Ok(v as f64),
            Scalar::UInt(v) => Ok(v as f64),
            other => parse(other.into_text().trim()),
        }
    }

    /// Parses the text form of a double, special values included.
    pub fn parse(text: &str) -> Result<f64, String> {
        match text {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            "true" | "false" => Err(format!("Invalid value '{text}': expected a number")),
            _ => text
                .parse::<f64>()
                .map_err(|_| format!("Invalid value '{text}': expected a number")),
        }
    }
}

/// `Option<f64>` in MLflow's JSON encoding.
pub mod opt_f64_special {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Scalar>::deserialize(d)? {
            None => Ok(None),
            Some(raw) => f64_special::from_scalar(raw)
                .map(Some)
                .map_err(de::Error::custom),
        }
    }
}
