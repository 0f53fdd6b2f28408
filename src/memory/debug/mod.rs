//! The manager's debug mode: red zones around every block, checked when the block is freed and
//! by [`MemoryManager::check_consistency`](crate::memory::MemoryManager::check_consistency),
//! and valgrind client requests so that memcheck sees pool blocks as it sees `malloc`'s.
//!
//! | file | what lives there |
//! |---|---|
//! | `red_zones.rs` | the layout of a guarded block, painting and checking its zones |
//! | `valgrind.rs` | the client requests (compiled in when valgrind's headers are present) |
//!
//! Whether a manager runs in debug mode ([`resolve`]): its configuration says so
//! (`ManagerConfig::red_zones`, C `qdsim_manager_config.red_zones`); else the environment
//! variable [`DEBUG_ENV`] does; else it is on exactly when the program runs under valgrind.

pub(crate) mod red_zones;
pub(crate) mod valgrind;

use crate::error::{Error, Result};

/// The environment variable that turns the debug mode on (`red-zones`) or off (`off`) for every
/// manager whose configuration leaves it open.
pub const DEBUG_ENV: &str = "QDSIM_MEM_DEBUG";

/// Whether a manager with red-zone setting `setting` (None: not chosen) runs in debug mode.
pub(crate) fn resolve(setting: Option<bool>) -> Result<bool> {
    if let Some(on) = setting {
        return Ok(on);
    }
    match std::env::var(DEBUG_ENV) {
        Ok(value) => parse_env(&value),
        Err(std::env::VarError::NotPresent) => Ok(valgrind::running()),
        Err(std::env::VarError::NotUnicode(value)) => Err(Error::invalid_argument(format!(
            "{DEBUG_ENV}={value:?} is not one of red-zones, off"
        ))),
    }
}

/// The meaning of `QDSIM_MEM_DEBUG=value`.
fn parse_env(value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "red-zones" | "redzones" | "red_zones" | "on" | "1" => Ok(true),
        "off" | "none" | "0" | "" => Ok(false),
        _ => Err(Error::invalid_argument(format!(
            "{DEBUG_ENV}={value:?} is not one of red-zones (guard every block), off"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_values_are_read_as_documented() {
        for on in ["red-zones", "REDZONES", " on ", "1"] {
            assert_eq!(parse_env(on), Ok(true), "{on}");
        }
        for off in ["off", "none", "0", ""] {
            assert_eq!(parse_env(off), Ok(false), "{off}");
        }
        let error = parse_env("yes please").unwrap_err();
        assert!(error.message().contains("QDSIM_MEM_DEBUG"), "{error:?}");
    }

    #[test]
    fn an_explicit_setting_wins() {
        assert_eq!(resolve(Some(true)), Ok(true));
        assert_eq!(resolve(Some(false)), Ok(false));
    }
}
