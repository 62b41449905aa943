//! `--lang`: Chinese or English for teaching output, else the locale. The language itself is the
//! library's [`Lang`]; this file only reads it from the command line and the environment.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use neuralnet::plot::Lang;

/// The values `--lang` accepts, as `[possible values: zh, en]` in help and errors.
pub fn parser() -> impl TypedValueParser<Value = Lang> {
    PossibleValuesParser::new([PossibleValue::new("zh").help("中文"), PossibleValue::new("en").help("English")])
        .map(|s| if s == "zh" { Lang::Zh } else { Lang::En })
}

/// Chinese when the locale (LC_ALL, LC_MESSAGES, LANG) starts with `zh`, else English.
pub fn from_env() -> Lang {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return if v.to_ascii_lowercase().starts_with("zh") { Lang::Zh } else { Lang::En };
        }
    }
    Lang::En
}
