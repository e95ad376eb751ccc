//! PostgreSQL's built-in types by OID, and how `atttypmod` refines them.
//!
//! Built-in OIDs are fixed in `pg_type.dat` and identical on every server
//! version Wellhead supports (checked against PostgreSQL 15 and 18 with
//! `SELECT oid, typname, typarray FROM pg_type WHERE oid < 10000`).
//!
//! Invariants:
//! - Every entry of [`BUILTIN_TYPES`] resolves: types with a decoder to their
//!   own [`ColumnType`], the rest (geometry, `reg*`, multiranges, ...) to
//!   [`ColumnType::Other`] carrying the catalog name, so their text passes
//!   through and `box[]` keeps its `;` delimiter.
//! - For an array column the type modifier applies to the element
//!   (`numeric(10,2)[]` has the same modifier as `numeric(10,2)`).
//! - OIDs of user types (enums, composites, domains, user ranges, extension
//!   types) give `None`: the source resolves those from the catalog.

use crate::change::ColumnType;

/// A built-in type: its OID, the OID of its array type, its catalog name.
#[derive(Debug, Clone, Copy)]
struct BuiltinType {
    oid: u32,
    array_oid: u32,
    name: &'static str,
}

const fn builtin(oid: u32, array_oid: u32, name: &'static str) -> BuiltinType {
    BuiltinType { oid, array_oid, name }
}

/// Built-in base, range and multirange types that have an array type.
const BUILTIN_TYPES: &[BuiltinType] = &[
    builtin(16, 1000, "bool"),
    builtin(17, 1001, "bytea"),
    builtin(18, 1002, "char"),
    builtin(19, 1003, "name"),
    builtin(20, 1016, "int8"),
    builtin(21, 1005, "int2"),
    builtin(22, 1006, "int2vector"),
    builtin(23, 1007, "int4"),
    builtin(24, 1008, "regproc"),
    builtin(25, 1009, "text"),
    builtin(26, 1028, "oid"),
    builtin(27, 1010, "tid"),
    builtin(28, 1011, "xid"),
    builtin(29, 1012, "cid"),
    builtin(30, 1013, "oidvector"),
    builtin(114, 199, "json"),
    builtin(142, 143, "xml"),
    builtin(600, 1017, "point"),
    builtin(601, 1018, "lseg"),
    builtin(602, 1019, "path"),
    builtin(603, 1020, "box"),
    builtin(604, 1027, "polygon"),
    builtin(628, 629, "line"),
    builtin(650, 651, "cidr"),
    builtin(700, 1021, "float4"),
    builtin(701, 1022, "float8"),
    builtin(718, 719, "circle"),
    builtin(774, 775, "macaddr8"),
    builtin(790, 791, "money"),
    builtin(829, 1040, "macaddr"),
    builtin(869, 1041, "inet"),
    builtin(1033, 1034, "aclitem"),
    builtin(1042, 1014, "bpchar"),
    builtin(1043, 1015, "varchar"),
    builtin(1082, 1182, "date"),
    builtin(1083, 1183, "time"),
    builtin(1114, 1115, "timestamp"),
    builtin(1184, 1185, "timestamptz"),
    builtin(1186, 1187, "interval"),
    builtin(1266, 1270, "timetz"),
    builtin(1560, 1561, "bit"),
    builtin(1562, 1563, "varbit"),
    builtin(1700, 1231, "numeric"),
    builtin(1790, 2201, "refcursor"),
    builtin(2202, 2207, "regprocedure"),
    builtin(2203, 2208, "regoper"),
    builtin(2204, 2209, "regoperator"),
    builtin(2205, 2210, "regclass"),
    builtin(2206, 2211, "regtype"),
    builtin(2950, 2951, "uuid"),
    builtin(2970, 2949, "txid_snapshot"),
    builtin(3220, 3221, "pg_lsn"),
    builtin(3614, 3643, "tsvector"),
    builtin(3615, 3645, "tsquery"),
    builtin(3642, 3644, "gtsvector"),
    builtin(3734, 3735, "regconfig"),
    builtin(3769, 3770, "regdictionary"),
    builtin(3802, 3807, "jsonb"),
    builtin(3904, 3905, "int4range"),
    builtin(3906, 3907, "numrange"),
    builtin(3908, 3909, "tsrange"),
    builtin(3910, 3911, "tstzrange"),
    builtin(3912, 3913, "daterange"),
    builtin(3926, 3927, "int8range"),
    builtin(4072, 4073, "jsonpath"),
    builtin(4089, 4090, "regnamespace"),
    builtin(4096, 4097, "regrole"),
    builtin(4191, 4192, "regcollation"),
    builtin(4451, 6150, "int4multirange"),
    builtin(4532, 6151, "nummultirange"),
    builtin(4533, 6152, "tsmultirange"),
    builtin(4534, 6153, "tstzmultirange"),
    builtin(4535, 6155, "datemultirange"),
    builtin(4536, 6157, "int8multirange"),
    builtin(5038, 5039, "pg_snapshot"),
    builtin(5069, 271, "xid8"),
];

/// Column type for a built-in type OID and `atttypmod` (including arrays of
/// built-ins); `None` for OIDs that are not built-in (user enums, composites,
/// domains, ranges, extension types: the source resolves those from the catalog).
pub fn builtin_column_type(type_oid: u32, type_modifier: i32) -> Option<ColumnType> {
    if let Some(element_oid) = builtin_array_element_oid(type_oid) {
        let element = builtin_column_type(element_oid, type_modifier)?;
        return Some(ColumnType::Array { element: Box::new(element) });
    }
    let builtin = BUILTIN_TYPES.iter().find(|builtin| builtin.oid == type_oid)?;
    Some(scalar_column_type(builtin, type_modifier))
}

/// The element type OID of a built-in array type OID (`1007` int4[] → `23`).
pub fn builtin_array_element_oid(array_oid: u32) -> Option<u32> {
    BUILTIN_TYPES.iter().find(|builtin| builtin.array_oid == array_oid).map(|builtin| builtin.oid)
}

fn scalar_column_type(builtin: &BuiltinType, type_modifier: i32) -> ColumnType {
    match builtin.oid {
        16 => ColumnType::Bool,
        21 => ColumnType::Int16,
        23 => ColumnType::Int32,
        20 => ColumnType::Int64,
        700 => ColumnType::Float32,
        701 => ColumnType::Float64,
        1700 => numeric_column_type(type_modifier),
        18 | 19 | 25 | 1042 | 1043 => ColumnType::Text,
        17 => ColumnType::Bytes,
        1082 => ColumnType::Date,
        1083 => ColumnType::Time,
        1266 => ColumnType::TimeTz,
        1114 => ColumnType::Timestamp,
        1184 => ColumnType::TimestampTz,
        1186 => ColumnType::Interval,
        2950 => ColumnType::Uuid,
        114 => ColumnType::Json,
        3802 => ColumnType::Jsonb,
        142 => ColumnType::Xml,
        869 => ColumnType::Inet,
        650 => ColumnType::Cidr,
        829 => ColumnType::MacAddr,
        774 => ColumnType::MacAddr8,
        790 => ColumnType::Money,
        1560 => ColumnType::Bit { length: u32::try_from(type_modifier).ok() },
        1562 => ColumnType::VarBit,
        26 => ColumnType::Oid,
        3614 => ColumnType::TsVector,
        3904 => range(builtin.name, ColumnType::Int32),
        3926 => range(builtin.name, ColumnType::Int64),
        3906 => range(builtin.name, numeric_column_type(-1)),
        3908 => range(builtin.name, ColumnType::Timestamp),
        3910 => range(builtin.name, ColumnType::TimestampTz),
        3912 => range(builtin.name, ColumnType::Date),
        _ => ColumnType::Other { type_name: builtin.name.to_owned() },
    }
}

fn range(type_name: &str, subtype: ColumnType) -> ColumnType {
    ColumnType::Range { type_name: type_name.to_owned(), subtype: Box::new(subtype) }
}

/// `numeric(p, s)` from its modifier: `((p << 16) | (s & 0x7ff)) + 4`, the
/// scale an 11-bit two's complement number since PostgreSQL 15.
///
/// A negative scale (`numeric(5,-2)`: multiples of 100 below 10^7) is stored
/// as the equivalent `numeric(p - s, 0)`: its values are integers, rendered
/// with no fractional digits, and need `p - s` digits.
fn numeric_column_type(type_modifier: i32) -> ColumnType {
    const VARHDRSZ: i32 = 4;
    let Some(packed) = type_modifier.checked_sub(VARHDRSZ).filter(|packed| *packed >= 0) else {
        return ColumnType::Numeric { precision: None, scale: None };
    };
    let precision = (packed >> 16) & 0xffff;
    let scale = ((packed & 0x7ff) ^ 1024) - 1024;
    let (precision, scale) = if scale < 0 { (precision - scale, 0) } else { (precision, scale) };
    ColumnType::Numeric { precision: u32::try_from(precision).ok(), scale: u32::try_from(scale).ok() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(p << 16 | (s & 0x7ff)) + 4`, as `numeric(p, s)` stores its modifier.
    fn numeric_modifier(precision: i32, scale: i32) -> i32 {
        ((precision << 16) | (scale & 0x7ff)) + 4
    }

    fn numeric(precision: Option<u32>, scale: Option<u32>) -> ColumnType {
        ColumnType::Numeric { precision, scale }
    }

    #[test]
    fn scalars_resolve() {
        assert_eq!(builtin_column_type(16, -1), Some(ColumnType::Bool));
        assert_eq!(builtin_column_type(1043, 36), Some(ColumnType::Text));
        assert_eq!(builtin_column_type(1042, 9), Some(ColumnType::Text));
        assert_eq!(builtin_column_type(3802, -1), Some(ColumnType::Jsonb));
        assert_eq!(builtin_column_type(1560, 4), Some(ColumnType::Bit { length: Some(4) }));
        assert_eq!(builtin_column_type(1560, -1), Some(ColumnType::Bit { length: None }));
        assert_eq!(builtin_column_type(3614, -1), Some(ColumnType::TsVector));
    }

    #[test]
    fn numeric_modifiers() {
        assert_eq!(builtin_column_type(1700, -1), Some(numeric(None, None)));
        // numeric(10,2): atttypmod 655366 on the server.
        assert_eq!(numeric_modifier(10, 2), 655_366);
        assert_eq!(builtin_column_type(1700, 655_366), Some(numeric(Some(10), Some(2))));
        assert_eq!(builtin_column_type(1700, numeric_modifier(1000, 1000)), Some(numeric(Some(1000), Some(1000))));
        // PostgreSQL 15+: numeric(3,5) and numeric(5,-2), atttypmod 196617 and 329730.
        assert_eq!((numeric_modifier(3, 5), numeric_modifier(5, -2)), (196_617, 329_730));
        assert_eq!(builtin_column_type(1700, numeric_modifier(3, 5)), Some(numeric(Some(3), Some(5))));
        assert_eq!(builtin_column_type(1700, numeric_modifier(5, -2)), Some(numeric(Some(7), Some(0))));
        assert_eq!(builtin_column_type(1700, numeric_modifier(1, -1000)), Some(numeric(Some(1001), Some(0))));
    }

    #[test]
    fn arrays_carry_the_element_modifier() {
        assert_eq!(
            builtin_column_type(1231, 655_366),
            Some(ColumnType::Array { element: Box::new(numeric(Some(10), Some(2))) })
        );
        // The brief's list, checked against `SELECT oid, typname, typarray FROM pg_type`.
        let array_oids = [
            1000, 1005, 1007, 1016, 1021, 1022, 1231, 1009, 1015, 1014, 1001, 1182, 1183, 1270, 1115, 1185, 1187, 2951,
            199, 3807, 143, 1041, 651, 1040, 775, 791, 1561, 1563, 1028, 3643, 1003, 1002, 3905, 3927, 3907, 3909,
            3911, 3913,
        ];
        let element_oids = [
            16, 21, 23, 20, 700, 701, 1700, 25, 1043, 1042, 17, 1082, 1083, 1266, 1114, 1184, 1186, 2950, 114, 3802,
            142, 869, 650, 829, 774, 790, 1560, 1562, 26, 3614, 19, 18, 3904, 3926, 3906, 3908, 3910, 3912,
        ];
        for (array_oid, element_oid) in array_oids.into_iter().zip(element_oids) {
            assert_eq!(builtin_array_element_oid(array_oid), Some(element_oid), "{array_oid}");
            let element = builtin_column_type(element_oid, -1).map(Box::new);
            assert_eq!(
                builtin_column_type(array_oid, -1),
                element.map(|element| ColumnType::Array { element }),
                "{array_oid}"
            );
        }
    }

    #[test]
    fn ranges_resolve_with_their_subtype() {
        assert_eq!(builtin_column_type(3904, -1), Some(range("int4range", ColumnType::Int32)));
        assert_eq!(builtin_column_type(3906, -1), Some(range("numrange", numeric(None, None))));
        assert_eq!(builtin_column_type(3910, -1), Some(range("tstzrange", ColumnType::TimestampTz)));
        assert_eq!(
            builtin_column_type(3913, -1),
            Some(ColumnType::Array { element: Box::new(range("daterange", ColumnType::Date)) })
        );
    }

    #[test]
    fn other_builtins_keep_their_name_and_user_types_are_unknown() {
        let other_box = ColumnType::Other { type_name: "box".to_owned() };
        assert_eq!(builtin_column_type(603, -1), Some(other_box.clone()));
        assert_eq!(builtin_column_type(1020, -1), Some(ColumnType::Array { element: Box::new(other_box) }));
        assert_eq!(builtin_column_type(16_384, -1), None);
        assert_eq!(builtin_column_type(0, -1), None);
    }
}
