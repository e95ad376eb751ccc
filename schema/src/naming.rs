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
//! Table identities (schema or database, table) become topics, subjects, file
//! paths and Avro namespaces by one injective rule, applied to each part:
//!
//! - A *plain* part — `[A-Za-z_][A-Za-z0-9_]*` not starting with `__` — is kept
//!   as it is (`orders`, `Order_Items`), as Debezium spells it.
//! - Any other part is escaped: `__` followed by the part's UTF-8 bytes, letters
//!   and digits kept and every other byte (`_` included) as `_` and two upper-case
//!   hex digits: `a.b` → `__a_2Eb`, `order items` → `__order_20items`,
//!   `x/../y` → `__x_2F_2E_2E_2Fy`, `2fa` → `__2fa`.
//!
//! Plain parts never start with `__` and escaped ones always do, and an escaped part
//! decodes one way, so distinct tables never share a topic, a subject, a directory or
//! a namespace. The results use only `[A-Za-z0-9_]`: legal in Kafka topics, in Avro
//! names and in file names, with no `/`, no `.` and no `..` to leave a directory.
//!
//! The topic is `<topic_prefix>.<part>.<part>` (at most [`MAX_TOPIC_BYTES`], Kafka's
//! limit: longer ones are refused, never cut), the Avro namespace the same with the
//! prefix sanitised by rule 2, and subjects follow Confluent's TopicNameStrategy.

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

/// Kafka's limit on a topic name's length, in bytes.
pub const MAX_TOPIC_BYTES: usize = 249;

/// A table part (schema, database or table name) by the injective rule of the module
/// documentation: kept when plain, escaped otherwise.
pub fn table_part(name: &str) -> String {
    if is_valid_name(name) && !name.starts_with("__") {
        return name.to_owned();
    }
    let mut escaped = String::with_capacity(2 + name.len() * 3);
    escaped.push_str("__");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("_{byte:02X}"));
        }
    }
    escaped
}

/// The Avro namespace of a table's records: `<topic_prefix>.<part>.<part>`, the prefix sanitised.
pub fn namespace(topic_prefix: &str, table: &TableName) -> String {
    format!("{}.{}.{}", sanitize_dotted(topic_prefix), table_part(&table.namespace), table_part(&table.name))
}

/// A table whose topic name would be longer than Kafka allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "its topic name {topic} is {} bytes, more than Kafka's {MAX_TOPIC_BYTES}: shorten topic_prefix, or rename the table",
    topic.len()
)]
pub struct TopicTooLong {
    pub topic: String,
}

/// The Kafka topic of a table, `<prefix>.<part>.<part>` (the files sink's directory too).
pub fn topic_name(prefix: &str, table: &TableName) -> Result<String, TopicTooLong> {
    let topic = format!("{prefix}.{}.{}", table_part(&table.namespace), table_part(&table.name));
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(TopicTooLong { topic });
    }
    Ok(topic)
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
        assert_eq!(namespace("shop", &table("public", "order items")), "shop.public.__order_20items");
        assert_eq!(namespace("eu.shop", &table("1st", "t")), "eu.shop.__1st.t");
        assert_eq!(namespace("my-shop", &table("public", "a.b")), "my_shop.public.__a_2Eb");
        assert_eq!(
            topic_name("shop", &table("public", "order items")).expect("test value"),
            "shop.public.__order_20items"
        );
        assert_eq!(topic_name("my-shop", &table("public", "Orders")).expect("test value"), "my-shop.public.Orders");
        assert_eq!(
            subject_names("shop.public.orders"),
            ("shop.public.orders-key".to_owned(), "shop.public.orders-value".to_owned())
        );
    }

    #[test]
    fn table_parts_are_kept_when_plain_and_escaped_otherwise() {
        assert_eq!(table_part("orders"), "orders");
        assert_eq!(table_part("Order_Items"), "Order_Items");
        assert_eq!(table_part("a.b"), "__a_2Eb");
        assert_eq!(table_part("x/../../../escaped"), "__x_2F_2E_2E_2F_2E_2E_2F_2E_2E_2Fescaped");
        assert_eq!(table_part("2fa"), "__2fa");
        assert_eq!(table_part("__x"), "___5F_5Fx");
        assert_eq!(table_part(""), "__");
        assert_eq!(table_part("a\nb"), "__a_0Ab");
        assert_eq!(table_part("é"), "___C3_A9");
        let dotted_table = topic_name("p", &table("public", "a.b")).expect("test value");
        let dotted_schema = topic_name("p", &table("public.a", "b")).expect("test value");
        assert_ne!(dotted_table, dotted_schema);
        assert!(is_valid_name(&table_part("x/../y")));
    }

    /// Decodes an escaped part: the proof, by test, that the rule is injective.
    fn decode_part(part: &str) -> Vec<u8> {
        let Some(escaped) = part.strip_prefix("__") else { return part.as_bytes().to_vec() };
        let mut bytes = Vec::new();
        let mut rest = escaped.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            if first == b'_' {
                let hex = std::str::from_utf8(&tail[..2]).expect("test value");
                bytes.push(u8::from_str_radix(hex, 16).expect("test value"));
                rest = &tail[2..];
            } else {
                bytes.push(first);
                rest = tail;
            }
        }
        bytes
    }

    proptest::proptest! {
        #[test]
        fn every_part_decodes_back_to_its_name(name in "\\PC{0,12}|[a-z_.]{0,6}|__[a-z0-9_]{0,4}") {
            let part = table_part(&name);
            proptest::prop_assert!(is_valid_name(&part));
            proptest::prop_assert_eq!(decode_part(&part), name.as_bytes().to_vec());
        }

        #[test]
        fn topics_are_legal_kafka_names(namespace in "\\PC{1,8}", name in "\\PC{1,8}") {
            let topic = topic_name("shop", &table(&namespace, &name)).expect("test value");
            proptest::prop_assert!(topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'));
        }
    }

    #[test]
    fn long_topics_are_refused_not_cut() {
        let long = "é".repeat(63);
        let refused = topic_name("shop", &table("public", &long)).expect_err("refused");
        assert!(refused.to_string().contains("more than Kafka's 249"), "{refused}");
        assert!(topic_name("shop", &table("public", &"a".repeat(63))).is_ok());
    }
}
