//! Which KFP API server the emulator plays: KFP 1.8.5 (the contract) or a KFP 2.x backend serving the v1beta1
//! API through its v1↔v2 converter. One store, one view per profile: the serialisers (`state.rs`), the
//! validator (`api.rs`), the error writer (`wire.rs`) and healthz ask the profile, nothing else does.
//!
//! Every difference cites its row of `KFP2-V1BETA1.md` (beside `CONTRACT.md` in the KFP wire contract); the
//! list of what is implemented, and of what is not, is in the module docs of [`super`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A KFP API server version family (KFP2-V1BETA1.md §0; §6 proposes the split).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Profile {
    /// KFP 1.8.5: native v1 server, grpc-gateway v1.16 (the contract).
    #[default]
    #[serde(rename = "1.8.5")]
    V1_8_5,
    /// KFP 2.0.0 … 2.3.x: the converter, grpc-gateway v1.16, "at leas" max-concurrency typo.
    #[serde(rename = "2.0")]
    V2_0,
    /// KFP 2.4.0 … 2.5.0 (Kubeflow 1.9/1.10): as 2.0, message typo fixed.
    #[serde(rename = "2.5")]
    V2_5,
    /// KFP 2.14.0 … 2.16.x: grpc-gateway v2 with protojson (unknown fields rejected, no `error` key),
    /// 2.15's length limits.
    #[serde(rename = "2.14")]
    V2_14,
    /// KFP 2.17.0: as 2.14, plus the opt-in per-namespace v1 blocking and a compact `healthz`.
    #[serde(rename = "2.17")]
    V2_17,
}

/// Every profile, oldest first.
pub const ALL_PROFILES: &[Profile] = &[
    Profile::V1_8_5,
    Profile::V2_0,
    Profile::V2_5,
    Profile::V2_14,
    Profile::V2_17,
];

impl Profile {
    /// The flag spelling: `1.8.5`, `2.0`, `2.5`, `2.14`, `2.17`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_8_5 => "1.8.5",
            Self::V2_0 => "2.0",
            Self::V2_5 => "2.5",
            Self::V2_14 => "2.14",
            Self::V2_17 => "2.17",
        }
    }

    /// The `tag_name` healthz reports.
    pub fn tag_name(self) -> &'static str {
        match self {
            Self::V1_8_5 => "1.8.5",
            Self::V2_0 => "2.0.5",
            Self::V2_5 => "2.5.0",
            Self::V2_14 => "2.14.0",
            Self::V2_17 => "2.17.0",
        }
    }

    /// A KFP 2.x backend: the v1beta1 API goes through the converter (§0).
    pub fn is_v2(self) -> bool {
        self != Self::V1_8_5
    }

    /// grpc-gateway v2 + protojson (2.14.0 and later, §0 and §1).
    pub fn gateway_v2(self) -> bool {
        self >= Self::V2_14
    }

    /// 2.15's name/namespace length validation (§2.3 "Name length").
    pub fn length_limits(self) -> bool {
        self >= Self::V2_14
    }

    /// 2.17's `BLOCK_V1_PIPELINES` is available (§2.6 last rows, §4.1).
    pub fn can_block_v1(self) -> bool {
        self >= Self::V2_17
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ALL_PROFILES
            .iter()
            .copied()
            .find(|p| p.as_str() == text || p.tag_name() == text)
            .ok_or_else(|| {
                format!(
                    "unknown KFP profile {text:?}: expected one of {}",
                    ALL_PROFILES
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_from_their_flag_or_tag_and_order_by_version() {
        assert_eq!("2.17".parse::<Profile>().unwrap(), Profile::V2_17);
        assert_eq!("2.5.0".parse::<Profile>().unwrap(), Profile::V2_5);
        assert!("2.6".parse::<Profile>().unwrap_err().contains("1.8.5, 2.0"));
        assert!(Profile::V2_14.gateway_v2() && !Profile::V2_5.gateway_v2());
        assert!(!Profile::V1_8_5.is_v2() && Profile::V2_0.is_v2());
    }
}
