//! How results reach the terminal: the chosen format and whether colour is allowed.

use std::io::IsTerminal;

use crate::args::{GlobalArgs, OutputFormat};

/// Settings every command needs to print its results.
#[derive(Debug, Clone)]
pub struct Context {
    pub format: OutputFormat,
    /// Colour escapes on stderr/stdout are allowed.
    pub color: bool,
    #[allow(dead_code)] // read by the commands that talk to KFP
    pub global: GlobalArgs,
}

impl Context {
    pub fn from_global(global: &GlobalArgs) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let color = !global.no_color && !no_color_env && std::io::stderr().is_terminal();
        Self {
            format: global.output,
            color,
            global: global.clone(),
        }
    }
}
