//! Environment overrides of configuration keys.
//!
//! `WELLHEAD_<KEY>__<KEY>__...=value` sets the key at that path, case-insensitively;
//! an element of `[[pipelines]]` is addressed by its `name` (or its index):
//! `WELLHEAD_PIPELINES__SHOP__SOURCE__URL=postgres://...`. A value is read as a
//! TOML value when it parses as one (numbers, booleans, arrays), else as a string;
//! the value of a secret key (`password`, or a key naming a password, secret or token)
//! is always the string as given, so that an all-digit password works.
//! Variables without `__` (such as `WELLHEAD_LOG`) are not overrides.

use super::{ConfigError, ENV_PREFIX};

/// Applies every override among `environment` to `table`.
pub(super) fn apply_overrides(
    table: &mut toml::Table,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut overrides: Vec<(String, String)> =
        environment.into_iter().filter(|(name, _)| name.starts_with(ENV_PREFIX) && name.contains("__")).collect();
    overrides.sort();
    for (variable, value) in overrides {
        let path: Vec<String> = variable[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
        let is_secret = path.last().is_some_and(|key| ["password", "secret", "token"].iter().any(|s| key.contains(s)));
        let value = if is_secret { toml::Value::String(value) } else { parse_value(&value) };
        set_path(table, &path, value).map_err(|reason| ConfigError::Override { variable: variable.clone(), reason })?;
    }
    Ok(())
}

fn parse_value(text: &str) -> toml::Value {
    let document = format!("value = {text}");
    match toml::from_str::<toml::Table>(&document) {
        Ok(mut parsed) => parsed.remove("value").unwrap_or_else(|| toml::Value::String(text.to_owned())),
        Err(_) => toml::Value::String(text.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((key, rest)) = path.split_first() else {
        return Err("names no key".into());
    };
    if key.is_empty() {
        return Err("has an empty key segment".into());
    }
    if rest.is_empty() {
        table.insert(key.clone(), value);
        return Ok(());
    }
    let entry = table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(inner) => set_path(inner, rest, value),
        toml::Value::Array(elements) => {
            let (selector, rest) = rest.split_first().ok_or("names an array, not a key inside it")?;
            let element = select_element(elements, selector)
                .ok_or_else(|| format!("no element of {key} has name or index {selector:?}"))?;
            if rest.is_empty() {
                return Err("would replace a whole array element".into());
            }
            match element {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("{key}.{selector} is not a table")),
            }
        }
        _ => Err(format!("{key} is a value, not a table")),
    }
}

fn select_element<'a>(elements: &'a mut [toml::Value], selector: &str) -> Option<&'a mut toml::Value> {
    let by_name = elements.iter().position(|element| {
        element.get("name").and_then(toml::Value::as_str).is_some_and(|name| name.eq_ignore_ascii_case(selector))
    });
    let index = by_name.or_else(|| selector.parse::<usize>().ok())?;
    elements.get_mut(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn overrides_nested_keys_by_pipeline_name_and_index() {
        let mut table: toml::Table =
            toml::from_str("[[pipelines]]\nname = \"shop\"\n[pipelines.source]\nurl = \"postgres://a\"\n")
                .expect("test TOML");
        apply_overrides(
            &mut table,
            env(&[
                ("WELLHEAD_PIPELINES__SHOP__SOURCE__URL", "postgres://b"),
                ("WELLHEAD_PIPELINES__0__BUFFER__MAX_BYTES", "2097152"),
                ("WELLHEAD_CONTROL__HTTP", "127.0.0.1:1"),
                ("WELLHEAD_LOG", "debug"),
                ("OTHER__X", "1"),
            ]),
        )
        .expect("overrides apply");
        let pipeline = &table["pipelines"].as_array().expect("array")[0];
        assert_eq!(pipeline["source"]["url"].as_str(), Some("postgres://b"));
        assert_eq!(pipeline["buffer"]["max_bytes"].as_integer(), Some(2_097_152));
        assert_eq!(table["control"]["http"].as_str(), Some("127.0.0.1:1"));
        assert!(!table.contains_key("log"));
    }

    #[test]
    fn unknown_pipeline_is_an_error_naming_the_variable() {
        let mut table: toml::Table = toml::from_str("[[pipelines]]\nname = \"shop\"\n").expect("test TOML");
        let error =
            apply_overrides(&mut table, env(&[("WELLHEAD_PIPELINES__NOPE__SLOT", "x")])).expect_err("no such pipeline");
        assert!(error.to_string().contains("WELLHEAD_PIPELINES__NOPE__SLOT"), "{error}");
    }
}
