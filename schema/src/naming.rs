//! Avro names from database names, Kafka topic names and registry subjects.
//!
//! Avro names must match `[A-Za-z_][A-Za-z0-9_]*`; database names can be any
//! text. The rule, applied to the columns of one table (and to the fields of
//! one composite type):
//!
//! 1. A name that is already a valid Avro name is kept unchanged. Valid names
//!    are reserved first, so adding a column never renames another one.
//! 2. Any other name is sanitised: each character outside `[A-Za-z0-9_]`
//!    becomes `_` (one per character), an empty name becomes `_`, and a
//!    leading digit gets a `_` prefix (`2fa` → `_2fa`, `order id` → `order_id`).
//! 3. When a sanitised name is already taken in the record, the first free one
//!    of `<name>_2`, `<name>_3`, ... is used, in column order.
//! 4. Whenever the Avro field name differs from the database name, the field
//!    carries the attribute [`COLUMN_ATTRIBUTE`] (`"wellhead.column":
//!    "<original name>"`), which makes the rule reversible: a reader maps a
//!    field back to its column by that attribute, or by the field name when it
//!    is absent.
//!
//! Namespaces: the record names of a table live in the namespace
//! `<topic_prefix>.<schema>.<table>`, each dot-separated segment sanitised by
//! rule 2 (`shop.public.order items` → `shop.public.order_items`). The Kafka
//! topic itself keeps the database names unsanitised ([`topic_name`]), as the
//! interface contract says; subjects follow Confluent's TopicNameStrategy.

use std::collections::HashSet;

use wellhead_decoders::change::TableName;

/// The field attribute naming the database column of a renamed field.
pub const COLUMN_ATTRIBUTE: &str = "wellhead.column";

/// Whether `name` is a valid Avro name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// `name` made into a valid Avro name by rule 2 of the module documentation.
pub fn sanitize(name: &str) -> String {
    if is_valid_name(name) {
        return name.to_owned();
    }
    let mut sanitized = String::with_capacity(name.len() + 1);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        sanitized.push('_');
    }
    sanitized.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    sanitized
}

/// The Avro field names of one record's columns, in order (rules 1–3).
pub fn field_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let names: Vec<&str> = names.into_iter().collect();
    let mut taken: HashSet<String> =
        names.iter().filter(|name| is_valid_name(name)).map(|&name| name.to_owned()).collect();
    names
        .iter()
        .map(|&name| {
            if is_valid_name(name) {
                return name.to_owned();
            }
            let base = sanitize(name);
            let mut candidate = base.clone();
            let mut suffix = 2_u32;
            while taken.contains(&candidate) {
                candidate = format!("{base}_{suffix}");
                suffix += 1;
            }
            taken.insert(candidate.clone());
            candidate
        })
        .collect()
}

/// A dotted name with each segment sanitised (`shop.public.order items` → `shop.public.order_items`).
pub fn sanitize_dotted(dotted: &str) -> String {
    dotted.split('.').map(sanitize).collect::<Vec<_>>().join(".")
}

/// The Avro namespace of a table's records: `<topic_prefix>.<schema>.<table>`, sanitised.
pub fn namespace(topic_prefix: &str, table: &TableName) -> String {
    sanitize_dotted(&format!("{topic_prefix}.{}.{}", table.namespace, table.name))
}

/// The Kafka topic of a table: `<prefix>.<schema or database>.<table>`, names as the database spells them.
pub fn topic_name(prefix: &str, table: &TableName) -> String {
    format!("{prefix}.{}.{}", table.namespace, table.name)
}

/// The registry subjects of a topic's keys and values (TopicNameStrategy): `(<topic>-key, <topic>-value)`.
pub fn subject_names(topic: &str) -> (String, String) {
    (format!("{topic}-key"), format!("{topic}-value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(namespace: &str, name: &str) -> TableName {
        TableName { namespace: namespace.to_owned(), name: name.to_owned() }
    }

    #[test]
    fn valid_names_are_kept_and_others_sanitised() {
        assert!(is_valid_name("_a1"));
        assert!(!is_valid_name("1a"));
        assert!(!is_valid_name(""));
        assert_eq!(sanitize("order_id"), "order_id");
        assert_eq!(sanitize("order id"), "order_id");
        assert_eq!(sanitize("2fa"), "_2fa");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("prix€"), "prix_");
        assert_eq!(sanitize("Größe"), "Gr__e");
    }

    #[test]
    fn collisions_get_numbered_suffixes_and_valid_names_win() {
        let names = field_names(["a b", "a_b", "a-b", "a_b_2", "x"]);
        assert_eq!(names, ["a_b_3", "a_b", "a_b_4", "a_b_2", "x"]);
        let names = field_names(["a b", "a-b", "a.b"]);
        assert_eq!(names, ["a_b", "a_b_2", "a_b_3"]);
    }

    #[test]
    fn namespaces_topics_and_subjects() {
        assert_eq!(namespace("shop", &table("public", "order items")), "shop.public.order_items");
        assert_eq!(namespace("eu.shop", &table("1st", "t")), "eu.shop._1st.t");
        assert_eq!(topic_name("shop", &table("public", "order items")), "shop.public.order items");
        assert_eq!(
            subject_names("shop.public.orders"),
            ("shop.public.orders-key".to_owned(), "shop.public.orders-value".to_owned())
        );
    }
}
