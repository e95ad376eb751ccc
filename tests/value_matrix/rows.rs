//! The value matrix both value-matrix tests stream (JSON lines in
//! `value_matrix.rs`, Avro files in `value_matrix_avro.rs`): table `matrix` with
//! a column per type Wellhead decodes and rows of edge values, and the oracle
//! query that asks PostgreSQL whether a value read back renders exactly as the
//! stored one (as the type's output function prints it, so `1.50` ≠ `1.5` and
//! `-0` ≠ `0`; not `::text`, which for xml, char(n), inet and bool is a cast
//! that rewrites the value).
//!
//! ```text
//!   create() ──► TYPES, CREATE TABLE <name> (id, COLUMNS…) ──► rows this server accepts
//!   insert() ──► INSERT INTO <name> (id, columns of the row) VALUES (…)
//!   matches_stored(literal) ──► SELECT format('%s', ($1::text)::<type>) = format('%s', <col>)
//! ```

use tokio_postgres::Client;

/// One row of the matrix: `(column, SQL expression)`; columns not named are NULL.
pub type Row = Vec<(&'static str, &'static str)>;

/// The checking session renders values the way Wellhead's replication session reads them.
pub const ORACLE_SETTINGS: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601';
     SET extra_float_digits = 3; SET lc_monetary = 'C'; SET bytea_output = 'hex';";

const TYPES: &str = r#"
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀', 'say "hi", \ bye');
    CREATE DOMAIN posint AS int CHECK (VALUE > 0);
    CREATE DOMAIN label_text AS text CHECK (VALUE <> 'forbidden');
    CREATE TYPE pair AS (x int, label text);
    CREATE TYPE floatrange AS RANGE (subtype = float8);
    CREATE TABLE toasted (id int PRIMARY KEY, big text, counter int);
    ALTER TABLE toasted ALTER COLUMN big SET STORAGE EXTERNAL;
"#;

/// `(column, type)` of table `matrix`, after `id int PRIMARY KEY`.
pub const COLUMNS: &[(&str, &str)] = &[
    ("c_int2", "smallint"),
    ("c_int4", "integer"),
    ("c_int8", "bigint"),
    ("c_numeric", "numeric"),
    ("c_numeric_12_2", "numeric(12,2)"),
    ("c_real", "real"),
    ("c_double", "double precision"),
    ("c_bool", "boolean"),
    ("c_text", "text"),
    ("c_varchar", "varchar(10)"),
    ("c_char", "char(5)"),
    ("c_name", "name"),
    ("c_qchar", r#""char""#),
    ("c_bytea", "bytea"),
    ("c_date", "date"),
    ("c_time", "time"),
    ("c_timetz", "timetz"),
    ("c_timestamp", "timestamp"),
    ("c_timestamptz", "timestamptz"),
    ("c_interval", "interval"),
    ("c_uuid", "uuid"),
    ("c_json", "json"),
    ("c_jsonb", "jsonb"),
    ("c_xml", "xml"),
    ("c_inet", "inet"),
    ("c_cidr", "cidr"),
    ("c_macaddr", "macaddr"),
    ("c_macaddr8", "macaddr8"),
    ("c_money", "money"),
    ("c_bit", "bit(8)"),
    ("c_varbit", "varbit"),
    ("c_oid", "oid"),
    ("c_int_array", "integer[]"),
    ("c_text_array", "text[]"),
    ("c_numeric_array", "numeric[]"),
    ("c_timestamptz_array", "timestamptz[]"),
    ("c_pair_array", "pair[]"),
    ("c_mood", "mood"),
    ("c_posint", "posint"),
    ("c_label", "label_text"),
    ("c_pair", "pair"),
    ("c_int4range", "int4range"),
    ("c_numrange", "numrange"),
    ("c_tstzrange", "tstzrange"),
    ("c_daterange", "daterange"),
    ("c_floatrange", "floatrange"),
    ("c_tsvector", "tsvector"),
];

/// One row per entry: `(column, SQL expression)`; columns not named are NULL.
/// Row ids are the position in this list, from 1.
const ROWS: &[&[(&str, &str)]] = &[
    // 1: every column NULL.
    &[],
    // 2: minimums, negative infinities, empties.
    &[
        ("c_int2", "-32768"),
        ("c_int4", "-2147483648"),
        ("c_int8", "-9223372036854775808"),
        ("c_numeric", "'-Infinity'"),
        ("c_numeric_12_2", "-9999999999.99"),
        ("c_real", "'-Infinity'"),
        ("c_double", "'-Infinity'"),
        ("c_bool", "false"),
        ("c_text", "''"),
        ("c_varchar", "''"),
        ("c_char", "''"),
        ("c_name", "''"),
        ("c_qchar", "''"),
        ("c_bytea", "''"),
        ("c_date", "'-infinity'"),
        ("c_time", "'00:00:00'"),
        ("c_timetz", "'00:00:00+15:59'"),
        ("c_timestamp", "'-infinity'"),
        ("c_timestamptz", "'-infinity'"),
        ("c_interval", "'-178956970 years -8 months -2147483647 days -2562047788:00:54.775807'"),
        ("c_uuid", "'00000000-0000-0000-0000-000000000000'"),
        ("c_json", "'[]'"),
        ("c_jsonb", "'{}'"),
        ("c_xml", "''"),
        ("c_inet", "'0.0.0.0/0'"),
        ("c_cidr", "'0.0.0.0/0'"),
        ("c_macaddr", "'00:00:00:00:00:00'"),
        ("c_macaddr8", "'00:00:00:00:00:00:00:00'"),
        ("c_money", "'-92233720368547758.08'"),
        ("c_bit", "B'00000000'"),
        ("c_varbit", "B''"),
        ("c_oid", "0"),
        ("c_int_array", "'{}'"),
        ("c_text_array", "'{}'"),
        ("c_numeric_array", "'{}'"),
        ("c_timestamptz_array", "'{}'"),
        ("c_pair_array", "'{}'"),
        ("c_mood", "'sad'"),
        ("c_posint", "1"),
        ("c_label", "''"),
        ("c_pair", "'(,)'"),
        ("c_int4range", "'empty'"),
        ("c_numrange", "'(,)'"),
        ("c_tstzrange", "'empty'"),
        ("c_daterange", "'empty'"),
        ("c_floatrange", "'empty'"),
        ("c_tsvector", "''"),
    ],
    // 3: maximums, positive infinities, non-ASCII and quoting.
    &[
        ("c_int2", "32767"),
        ("c_int4", "2147483647"),
        ("c_int8", "9223372036854775807"),
        ("c_numeric", "'Infinity'"),
        ("c_numeric_12_2", "9999999999.99"),
        ("c_real", "'3.4028235e38'"),
        ("c_double", "'1.7976931348623157e308'"),
        ("c_bool", "true"),
        ("c_text", r#"E'😀 ü 日本 "q" \\ tab\there\nnew line\r\x01 \x7f end'"#),
        ("c_varchar", "'😀😀😀😀😀😀😀😀😀😀'"),
        ("c_char", "'ü日本😀a'"),
        ("c_name", "repeat('n', 63)"),
        ("c_qchar", "'z'"),
        (
            "c_bytea",
            "(SELECT decode(string_agg(lpad(to_hex(b), 2, '0'), '' ORDER BY b), 'hex') FROM generate_series(0, 255) b)",
        ),
        ("c_date", "'infinity'"),
        ("c_time", "'24:00:00'"),
        ("c_timetz", "'24:00:00-15:59'"),
        ("c_timestamp", "'infinity'"),
        ("c_timestamptz", "'infinity'"),
        ("c_interval", "'178956970 years 7 months 2147483647 days 2562047788:00:54.775806'"),
        ("c_uuid", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"),
        (
            "c_json",
            r#"('{"a": [1, 2.50, {"b": null}],' || chr(10) || '  "u": "\u00fc\ud83d\ude00 😀",' || chr(13) || chr(10)
               || ' "big": 123456789012345678901234567890.123456789, "neg": -0}')::json"#,
        ),
        (
            "c_jsonb",
            r#"'{"nested": {"deep": [1, [2, [3, {"k": "v"}]]]}, "esc": "\"q\" \\ \u0001 \u00e9 \ud83d\ude00", "big": 12345678901234567890123456789012345678901234567890, "small": 1e-300, "f": 1.50}'"#,
        ),
        ("c_xml", r#"'<a b="1">ü &amp; 😀<c/></a>'"#),
        ("c_inet", "'255.255.255.255'"),
        ("c_cidr", "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'"),
        ("c_macaddr", "'ff:ff:ff:ff:ff:ff'"),
        ("c_macaddr8", "'ff:ff:ff:ff:ff:ff:ff:ff'"),
        ("c_money", "'92233720368547758.07'"),
        ("c_bit", "B'11111111'"),
        ("c_varbit", "B'1010101010101'"),
        ("c_oid", "4294967295"),
        ("c_int_array", "'{{1,2},{3,4}}'"),
        ("c_text_array", r#"ARRAY[NULL, 'NULL', 'a"b', 'c,d', 'e\f', '', ' spaced ', '{}', '😀 ü']"#),
        ("c_numeric_array", "'{1.50,NaN,-0.001,NULL,Infinity,-Infinity}'"),
        (
            "c_timestamptz_array",
            "ARRAY['infinity', '2024-05-01 12:00:00.123456+00', NULL, '4713-01-01 00:00:00+00 BC']::timestamptz[]",
        ),
        ("c_pair_array", r#"ARRAY[ROW(1, 'x')::pair, NULL, ROW(NULL, 'a,b "c" \')::pair]"#),
        ("c_mood", r#"'say "hi", \ bye'"#),
        ("c_posint", "2147483647"),
        ("c_label", r#"'quote " and \ backslash, (paren)'"#),
        ("c_pair", r#"ROW(-1, 'a "quoted", (paren) \ back')::pair"#),
        ("c_int4range", "'[-2147483648,2147483647)'"),
        ("c_numrange", "'[0.001,1000.500)'"),
        ("c_tstzrange", "'[2024-01-01 00:00:00.000001+00,infinity]'"),
        ("c_daterange", "'[4713-01-01 BC,infinity)'"),
        ("c_floatrange", "'[-Infinity,Infinity]'"),
        ("c_tsvector", "$$a fat:2A cat:3B,4C sat:1 'it''s' ü😀$$"),
    ],
    // 4: special values, BC, offsets, bounds other than 1.
    &[
        ("c_int2", "0"),
        ("c_int4", "-1"),
        ("c_int8", "0"),
        ("c_numeric", "'NaN'"),
        ("c_numeric_12_2", "0.5"),
        ("c_real", "'NaN'"),
        ("c_double", "'NaN'"),
        ("c_text", "'NULL'"),
        ("c_varchar", "'NULL'"),
        ("c_char", "'a'"),
        ("c_name", "'ü 日本 😀'"),
        ("c_qchar", r"'\351'"),
        ("c_bytea", r"'\x00'"),
        ("c_date", "'4714-11-24 BC'"),
        ("c_time", "'23:59:59.999999'"),
        ("c_timetz", "'12:34:56.789012+05:30'"),
        ("c_timestamp", "'4714-11-24 00:00:00 BC'"),
        ("c_timestamptz", "'4714-11-24 00:00:00+00 BC'"),
        ("c_interval", "'-1 year -2 months +3 days -04:05:06.000001'"),
        ("c_uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"),
        ("c_json", r#"'"just a string"'"#),
        ("c_jsonb", r#"'[1, "two", null, true, {"a": []}]'"#),
        ("c_xml", r#"'<?xml version="1.0"?><r/>'"#),
        ("c_inet", "'192.168.1.5/24'"),
        ("c_cidr", "'10.0.0.0/8'"),
        ("c_macaddr", "'08:00:2b:01:02:03'"),
        ("c_macaddr8", "'08:00:2b:01:02:03'"),
        ("c_money", "'-0.01'"),
        ("c_bit", "B'10000001'"),
        ("c_varbit", "B'0'"),
        ("c_oid", "1"),
        ("c_int_array", "'[0:2]={1,2,3}'"),
        ("c_text_array", "'[-5:-4]={x,NULL}'"),
        ("c_numeric_array", "'{{1e-20},{NULL}}'"),
        ("c_timestamptz_array", "'[2:2][3:4]={{2000-01-01 00:00:00+00,NULL}}'"),
        ("c_pair_array", r#"'[0:0]={"(7,)"}'"#),
        ("c_mood", "'happy 😀'"),
        ("c_label", "'NULL'"),
        ("c_pair", r#"'(0,"")'"#),
        ("c_int4range", "'(,5]'"),
        ("c_numrange", "'(-0.00000000000000000001,)'"),
        ("c_tstzrange", "'(,2024-05-01 12:00:00.5+00]'"),
        ("c_daterange", "'[2024-02-29,2024-03-01]'"),
        ("c_floatrange", "'(-0,5e-324]'"),
        ("c_tsvector", "'x'"),
    ],
    // 5: huge numeric, smallest subnormals, latest instants.
    &[
        ("c_numeric", "'1e1000'"),
        ("c_numeric_12_2", "0"),
        ("c_real", "'1e-45'"),
        ("c_double", "'5e-324'"),
        ("c_date", "'5874897-12-31'"),
        ("c_time", "'00:00:00.000001'"),
        ("c_timetz", "'01:02:03.000001-00:00:01'"),
        // Not PostgreSQL's last instant (294276-12-31 23:59:59.999999): the value model counts
        // i64 microseconds from 1970, which ends in 294247, and the pipeline stops (see the report).
        ("c_timestamp", "'294246-12-31 23:59:59.999999'"),
        ("c_timestamptz", "'294246-12-31 23:59:59.999999+00'"),
        ("c_interval", "'0'"),
        // Not 'null': a JSON null document renders as JSON null, the same as SQL NULL (see the report).
        ("c_json", r#"'  {"ws" : [ ] }  '"#),
        ("c_jsonb", r#"'"\u00e9"'"#),
        ("c_inet", "'::1'"),
        ("c_cidr", "'::/0'"),
        ("c_int_array", "'{NULL}'"),
    ],
    // 6: tiny numeric, negative zeros, years 1 AD and 1 BC.
    &[
        ("c_numeric", "'-1e-300'"),
        ("c_real", "'-0'"),
        ("c_double", "'-0'"),
        ("c_date", "'0001-01-01'"),
        ("c_timestamp", "'0001-12-31 23:59:59.999999 BC'"),
        ("c_timestamptz", "'1999-12-31 23:59:59.5-08:00'"),
        ("c_interval", "'-1 mons +1 day'"),
        ("c_inet", "'::ffff:1.2.3.4'"),
        ("c_cidr", "'2001:db8::/32'"),
    ],
    // 7: long exact decimals and floats whose shortest form is long.
    &[
        ("c_numeric", "'-123456789012345678901234567890.123456789012345678901234567890000'"),
        ("c_real", "'0.1'"),
        ("c_double", "'1.2345678901234568e20'"),
        ("c_interval", "'0.000001 seconds'"),
        ("c_inet", "'2001:db8::1/64'"),
    ],
    // 8: more float shapes.
    &[("c_real", "'1.1754944e-38'"), ("c_double", "'2.2250738585072014e-308'"), ("c_numeric", "'0.000'")],
    // 9: 1 MB of text (4-byte UTF-8 included) and 1 MB of bytea.
    &[("c_text", "repeat('😀 ü 日本 ', 70000)"), ("c_bytea", "decode(repeat('00ff7f80', 262144), 'hex')")],
];

/// Rows only servers from PostgreSQL 17 accept (infinite intervals).
const ROWS_SINCE_17: &[&[(&str, &str)]] = &[&[("c_interval", "'infinity'")], &[("c_interval", "'-infinity'")]];

/// Creates the types (and table `toasted`), then one table per name in `tables`
/// with `id int PRIMARY KEY` and [`COLUMNS`]; returns the rows this server
/// accepts, row `n` to be inserted with id `n + 1`.
pub async fn create(client: &Client, tables: &[&str]) -> Vec<Row> {
    let columns: Vec<String> = COLUMNS.iter().map(|(name, sql_type)| format!("{name} {sql_type}")).collect();
    let creates: String = tables
        .iter()
        .map(|table| format!(" CREATE TABLE {table} (id int PRIMARY KEY, {});", columns.join(", ")))
        .collect();
    client.batch_execute(&format!("{TYPES}{creates}")).await.expect("schema");
    let version: i32 = client
        .query_one("SHOW server_version_num", &[])
        .await
        .expect("version")
        .get::<_, String>(0)
        .parse()
        .expect("numeric version");
    let mut rows: Vec<Row> = ROWS.iter().map(|row| row.to_vec()).collect();
    if version >= 170_000 {
        rows.extend(ROWS_SINCE_17.iter().map(|row| row.to_vec()));
    }
    // A server built without libxml rejects every xml value; its xml column stays NULL.
    if client.batch_execute("SELECT '<a/>'::xml").await.is_err() {
        rows.iter_mut().for_each(|row| row.retain(|(column, _)| *column != "c_xml"));
    }
    rows
}

/// Inserts the cells of `row` into `table` as row `id` (every other column NULL).
pub async fn insert(client: &Client, table: &str, id: usize, row: &[(&str, &str)]) {
    let names: String = row.iter().map(|(name, _)| format!(", {name}")).collect();
    let values: String = row.iter().map(|(_, value)| format!(", {value}")).collect();
    let insert = format!("INSERT INTO {table} (id{names}) VALUES ({id}{values})");
    client.batch_execute(&insert).await.unwrap_or_else(|e| panic!("{} in {}", db_message(&e), truncated(&insert)));
}

/// Whether `literal`, fed to the input function of `sql_type`, renders exactly as
/// `table.column` of row `id` (`None`: whether that is SQL NULL), and how PostgreSQL
/// renders the stored value (or why it rejected the literal). The session must
/// have [`ORACLE_SETTINGS`].
///
/// `num_nulls`, not `IS NULL`: a composite whose fields are all NULL `IS NULL` but is a value.
pub async fn matches_stored(
    oracle: &Client,
    table: &str,
    id: i32,
    column: &str,
    sql_type: &str,
    literal: Option<&str>,
) -> (bool, Option<String>) {
    let result = match literal {
        None => {
            let query = format!("SELECT num_nulls({column}) = 1, format('%s', {column}) FROM {table} WHERE id = $1");
            oracle.query_one(&query, &[&id]).await
        }
        Some(literal) => {
            let query = format!(
                "SELECT num_nulls({column}) = 0 AND format('%s', ($1::text)::{sql_type}) = format('%s', {column}),
                        format('%s', {column})
                   FROM {table} WHERE id = $2"
            );
            oracle.query_one(&query, &[&literal, &id]).await
        }
    };
    match result {
        Ok(row) => (row.get::<_, bool>(0), row.get::<_, Option<String>>(1)),
        Err(error) => (false, Some(format!("(input rejected: {})", db_message(&error)))),
    }
}

pub fn db_message(error: &tokio_postgres::Error) -> String {
    error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned())
}

/// At most 300 characters of `text`, saying how long it was when cut.
pub fn truncated(text: &str) -> String {
    const LIMIT: usize = 300;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}
