//! Mango selectors (`filter=_selector`) and CouchDB collation.
//!
//! The evaluator follows PouchDB's in-memory matcher (`pouchdb-selector-core`), which is
//! what a PouchDB replicating from a local database applies, so a filtered replication
//! selects the same documents whichever side evaluates it: comparisons use CouchDB
//! collation (`null` < booleans < numbers < strings < arrays < objects), `$in`/`$nin`
//! look inside array fields, `$ne` matches a missing field. Deliberate differences:
//! an array given as an implicit equality (`{"tags": ["a"]}`) means `$eq` (CouchDB's
//! reading; PouchDB treats the indexes as sub-fields), `$keyMapMatch` is supported
//! (CouchDB has it, PouchDB throws), and `$regex` uses Rust's `regex` syntax (no
//! look-around or back-references; such patterns are refused with 400).

use std::cmp::Ordering;

use regex::Regex;
use serde_json::{Map, Value};

/// Compares two JSON values in CouchDB collation, as PouchDB's `collate` does.
///
/// Strings compare by UTF-16 code units (JavaScript's `<`), objects key by key in their
/// stored order, then by length.
pub fn collate(a: &Value, b: &Value) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let c = collate(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            for ((ka, va), (kb, vb)) in x.iter().zip(y) {
                let c = ka.encode_utf16().cmp(kb.encode_utf16());
                if c != Ordering::Equal {
                    return c;
                }
                let c = collate(va, vb);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 1,
        Value::Bool(_) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

/// A selector that failed validation, with CouchDB-style wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// A parsed, validated selector.
#[derive(Debug, Clone)]
pub struct Selector {
    root: Matcher,
}

impl Selector {
    /// Parses and validates a selector (a JSON object).
    ///
    /// # Errors
    /// [`SelectorError`] naming the operator or argument that is wrong.
    pub fn parse(value: &Value) -> Result<Selector, SelectorError> {
        let Value::Object(map) = value else {
            return Err(SelectorError("Selector must be a JSON object".into()));
        };
        Ok(Selector {
            root: parse_object(map, 0)?,
        })
    }

    /// Whether `doc` (a whole document, `_id` and `_rev` included) matches.
    pub fn matches(&self, doc: &Value) -> bool {
        self.root.test(Some(doc))
    }
}

/// Conditions applied to one value (the document at the top, a field below).
#[derive(Debug, Clone)]
enum Matcher {
    All(Vec<Matcher>),
    Any(Vec<Matcher>),
    Not(Box<Matcher>),
    Field(Vec<String>, Box<Matcher>),
    Eq(Value),
    Ne(Value),
    Cmp(Ordering, bool, Value),
    Exists(bool),
    Type(JsonType),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Size(u64),
    Mod(i64, i64),
    Regex(Box<Regex>),
    ContainsAll(Vec<Value>),
    ElemMatch(Box<Matcher>),
    AllMatch(Box<Matcher>),
    KeyMapMatch(Box<Matcher>),
}

#[derive(Debug, Clone, Copy)]
enum JsonType {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

const MAX_DEPTH: usize = 64;

fn parse_object(map: &Map<String, Value>, depth: usize) -> Result<Matcher, SelectorError> {
    if depth > MAX_DEPTH {
        return Err(SelectorError("Selector is nested too deeply".into()));
    }
    let mut all = Vec::with_capacity(map.len());
    for (key, arg) in map {
        all.push(if key.starts_with('$') {
            parse_operator(key, arg, depth)?
        } else {
            let path = split_path(key)?;
            Matcher::Field(path, Box::new(parse_condition(arg, depth + 1)?))
        });
    }
    Ok(if all.len() == 1 {
        all.pop().expect("one")
    } else {
        Matcher::All(all)
    })
}

/// What a field is matched against: an object of operators and sub-fields, or a value
/// meaning equality.
fn parse_condition(arg: &Value, depth: usize) -> Result<Matcher, SelectorError> {
    match arg {
        Value::Object(map) => parse_object(map, depth),
        other => Ok(Matcher::Eq(other.clone())),
    }
}

fn array_arg<'a>(op: &str, arg: &'a Value) -> Result<&'a Vec<Value>, SelectorError> {
    arg.as_array()
        .ok_or_else(|| SelectorError(format!("Operator {op} requires an array argument")))
}

fn selector_list(op: &str, arg: &Value, depth: usize) -> Result<Vec<Matcher>, SelectorError> {
    let list = array_arg(op, arg)?;
    list.iter()
        .map(|s| match s {
            Value::Object(m) => parse_object(m, depth + 1),
            _ => Err(SelectorError(format!(
                "Operator {op} requires an array of JSON objects"
            ))),
        })
        .collect()
}

fn parse_operator(op: &str, arg: &Value, depth: usize) -> Result<Matcher, SelectorError> {
    Ok(match op {
        "$and" => Matcher::All(selector_list(op, arg, depth)?),
        "$or" => Matcher::Any(selector_list(op, arg, depth)?),
        "$nor" => Matcher::Not(Box::new(Matcher::Any(selector_list(op, arg, depth)?))),
        "$not" => match arg {
            Value::Object(m) => Matcher::Not(Box::new(parse_object(m, depth + 1)?)),
            _ => return Err(SelectorError("Operator $not requires a JSON object".into())),
        },
        "$eq" => Matcher::Eq(arg.clone()),
        "$ne" => Matcher::Ne(arg.clone()),
        "$gt" => Matcher::Cmp(Ordering::Greater, false, arg.clone()),
        "$gte" => Matcher::Cmp(Ordering::Greater, true, arg.clone()),
        "$lt" => Matcher::Cmp(Ordering::Less, false, arg.clone()),
        "$lte" => Matcher::Cmp(Ordering::Less, true, arg.clone()),
        "$exists" => Matcher::Exists(
            arg.as_bool()
                .ok_or_else(|| SelectorError("Operator $exists requires a boolean".into()))?,
        ),
        "$type" => Matcher::Type(match arg.as_str() {
            Some("null") => JsonType::Null,
            Some("boolean") => JsonType::Boolean,
            Some("number") => JsonType::Number,
            Some("string") => JsonType::String,
            Some("array") => JsonType::Array,
            Some("object") => JsonType::Object,
            _ => {
                return Err(SelectorError(
                    "Operator $type requires one of null, boolean, number, string, array, object"
                        .into(),
                ));
            }
        }),
        "$in" => Matcher::In(array_arg(op, arg)?.clone()),
        "$nin" => Matcher::Nin(array_arg(op, arg)?.clone()),
        "$all" => Matcher::ContainsAll(array_arg(op, arg)?.clone()),
        "$size" => Matcher::Size(arg.as_u64().ok_or_else(|| {
            SelectorError("Operator $size requires a non-negative integer".into())
        })?),
        "$mod" => {
            let bad = || {
                SelectorError(
                    "Operator $mod requires [Divisor, Remainder], integers, the divisor not 0"
                        .into(),
                )
            };
            let list = arg.as_array().filter(|l| l.len() == 2).ok_or_else(bad)?;
            let d = list[0].as_i64().filter(|d| *d != 0).ok_or_else(bad)?;
            let r = list[1].as_i64().ok_or_else(bad)?;
            Matcher::Mod(d, r)
        }
        "$regex" => {
            let pattern = arg
                .as_str()
                .ok_or_else(|| SelectorError("Operator $regex requires a string".into()))?;
            let re = Regex::new(pattern).map_err(|e| {
                SelectorError(format!("Invalid regular expression {pattern:?}: {e}"))
            })?;
            Matcher::Regex(Box::new(re))
        }
        "$elemMatch" | "$allMatch" | "$keyMapMatch" => {
            let Value::Object(m) = arg else {
                return Err(SelectorError(format!(
                    "Operator {op} requires a JSON object"
                )));
            };
            let inner = Box::new(parse_object(m, depth + 1)?);
            match op {
                "$elemMatch" => Matcher::ElemMatch(inner),
                "$allMatch" => Matcher::AllMatch(inner),
                _ => Matcher::KeyMapMatch(inner),
            }
        }
        other => return Err(SelectorError(format!("Invalid operator: {other}"))),
    })
}

/// Splits `a.b\.c` into `["a", "b.c"]`.
fn split_path(key: &str) -> Result<Vec<String>, SelectorError> {
    let mut parts = vec![String::new()];
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => parts.last_mut().expect("one").push(n),
                None => parts.last_mut().expect("one").push('\\'),
            },
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("one").push(c),
        }
    }
    if parts.iter().any(String::is_empty) {
        return Err(SelectorError(format!("Invalid field name {key:?}")));
    }
    Ok(parts)
}

fn lookup<'a>(mut value: Option<&'a Value>, path: &[String]) -> Option<&'a Value> {
    for key in path {
        value = match value? {
            Value::Object(m) => m.get(key),
            // JavaScript indexes arrays with numeric keys too.
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
    }
    value
}

fn eq(a: &Value, b: &Value) -> bool {
    collate(a, b) == Ordering::Equal
}

fn contains(field: &Value, wanted: &[Value]) -> bool {
    wanted.iter().any(|w| match field {
        Value::Array(items) => items.iter().any(|i| eq(w, i)),
        other => eq(w, other),
    })
}

impl Matcher {
    /// Applies to `value` (`None`: the field is absent).
    fn test(&self, value: Option<&Value>) -> bool {
        let present = value.filter(|v| !v.is_null());
        match self {
            Matcher::All(list) => list.iter().all(|m| m.test(value)),
            Matcher::Any(list) => list.iter().any(|m| m.test(value)),
            Matcher::Not(m) => !m.test(value),
            Matcher::Field(path, m) => m.test(lookup(value, path)),
            Matcher::Eq(want) => value.is_some_and(|v| eq(v, want)),
            Matcher::Ne(want) => !eq(value.unwrap_or(&Value::Null), want),
            Matcher::Cmp(dir, or_equal, bound) => value.is_some_and(|v| {
                let c = collate(v, bound);
                c == *dir || (*or_equal && c == Ordering::Equal)
            }),
            Matcher::Exists(want) => value.is_some() == *want,
            Matcher::Type(t) => value.is_some_and(|v| {
                matches!(
                    (t, v),
                    (JsonType::Null, Value::Null)
                        | (JsonType::Boolean, Value::Bool(_))
                        | (JsonType::Number, Value::Number(_))
                        | (JsonType::String, Value::String(_))
                        | (JsonType::Array, Value::Array(_))
                        | (JsonType::Object, Value::Object(_))
                )
            }),
            Matcher::In(list) => present.is_some_and(|v| contains(v, list)),
            Matcher::Nin(list) => present.is_some_and(|v| !contains(v, list)),
            Matcher::Size(n) => matches!(present, Some(Value::Array(a)) if a.len() as u64 == *n),
            Matcher::Mod(d, r) => present
                .and_then(Value::as_f64)
                .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15 && (f as i64) % d == *r),
            Matcher::Regex(re) => matches!(present, Some(Value::String(s)) if re.is_match(s)),
            Matcher::ContainsAll(list) => match value {
                Some(Value::Array(items)) => list.iter().all(|w| items.iter().any(|i| eq(w, i))),
                _ => false,
            },
            Matcher::ElemMatch(m) => match value {
                Some(Value::Array(items)) => items.iter().any(|i| m.test(Some(i))),
                _ => false,
            },
            Matcher::AllMatch(m) => match value {
                Some(Value::Array(items)) => {
                    !items.is_empty() && items.iter().all(|i| m.test(Some(i)))
                }
                _ => false,
            },
            Matcher::KeyMapMatch(m) => match value {
                Some(Value::Object(map)) => {
                    map.keys().any(|k| m.test(Some(&Value::String(k.clone()))))
                }
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn m(selector: Value, doc: Value) -> bool {
        Selector::parse(&selector).unwrap().matches(&doc)
    }

    #[test]
    fn collation_order() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1),
            json!(0),
            json!(1.5),
            json!(2),
            json!(""),
            json!("A"),
            json!("a"),
            json!("aa"),
            json!("b"),
            json!([]),
            json!([1]),
            json!([1, 2]),
            json!([2]),
            json!({}),
            json!({"a": 1}),
            json!({"a": 2}),
            json!({"b": 1}),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(collate(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        // UTF-16 order, as JavaScript compares: U+FF5E sorts after U+1F600's surrogates.
        assert_eq!(
            collate(&json!("\u{ff5e}"), &json!("\u{1f600}")),
            Ordering::Greater
        );
    }

    #[test]
    fn operators() {
        let doc = json!({"_id": "a", "n": 5, "s": "hello", "tags": ["x", "y"], "o": {"k": {"z": 1}}, "nil": null, "a.b": 3});
        assert!(m(json!({}), doc.clone()));
        assert!(m(json!({"n": 5}), doc.clone()));
        assert!(!m(json!({"n": "5"}), doc.clone()));
        assert!(m(json!({"n": {"$gt": 4, "$lte": 5}}), doc.clone()));
        assert!(!m(json!({"n": {"$lt": 5}}), doc.clone()));
        assert!(
            m(json!({"missing": {"$ne": 1}}), doc.clone()),
            "PouchDB: $ne matches absent"
        );
        assert!(!m(json!({"missing": {"$eq": null}}), doc.clone()));
        assert!(m(json!({"nil": {"$eq": null}}), doc.clone()));
        assert!(m(json!({"nil": {"$exists": true}}), doc.clone()));
        assert!(m(json!({"missing": {"$exists": false}}), doc.clone()));
        assert!(m(json!({"o.k.z": 1}), doc.clone()));
        assert!(m(json!({"o": {"k": {"z": {"$gte": 1}}}}), doc.clone()));
        assert!(m(json!({"a\\.b": 3}), doc.clone()));
        assert!(m(json!({"tags": {"$in": ["y", "q"]}}), doc.clone()));
        assert!(!m(json!({"tags": {"$nin": ["y"]}}), doc.clone()));
        assert!(m(json!({"s": {"$in": ["hello"]}}), doc.clone()));
        assert!(m(json!({"tags": {"$all": ["y", "x"]}}), doc.clone()));
        assert!(m(json!({"tags": {"$size": 2}}), doc.clone()));
        assert!(m(
            json!({"tags": {"$elemMatch": {"$eq": "y"}}}),
            doc.clone()
        ));
        assert!(!m(
            json!({"tags": {"$allMatch": {"$eq": "y"}}}),
            doc.clone()
        ));
        assert!(m(json!({"tags": ["x", "y"]}), doc.clone()));
        assert!(m(json!({"n": {"$mod": [2, 1]}}), doc.clone()));
        assert!(m(json!({"s": {"$regex": "^h.l+o$"}}), doc.clone()));
        assert!(m(
            json!({"s": {"$type": "string"}, "tags": {"$type": "array"}}),
            doc.clone()
        ));
        assert!(m(json!({"$or": [{"n": 1}, {"s": "hello"}]}), doc.clone()));
        assert!(!m(json!({"$nor": [{"n": 1}, {"s": "hello"}]}), doc.clone()));
        assert!(m(json!({"$and": [{"n": 5}, {"s": "hello"}]}), doc.clone()));
        assert!(m(json!({"$not": {"n": 1}}), doc.clone()));
        assert!(m(json!({"n": {"$not": {"$gt": 6}}}), doc.clone()));
        assert!(m(json!({"o": {"$keyMapMatch": {"$eq": "k"}}}), doc.clone()));
        assert!(m(json!({"_id": {"$gt": "0"}}), doc.clone()));
        assert!(m(json!({"tags.1": "y"}), doc));
    }

    #[test]
    fn invalid_selectors_name_the_problem() {
        for (sel, words) in [
            (json!([]), "JSON object"),
            (json!({"$foo": 1}), "Invalid operator: $foo"),
            (json!({"a": {"$in": 1}}), "$in requires an array"),
            (json!({"a": {"$size": -1}}), "$size"),
            (json!({"a": {"$mod": [0, 1]}}), "$mod"),
            (json!({"a": {"$regex": "("}}), "Invalid regular expression"),
            (json!({"$or": [1]}), "array of JSON objects"),
            (json!({"a": {"$type": "date"}}), "$type"),
            (json!({"a..b": 1}), "Invalid field name"),
        ] {
            let err = Selector::parse(&sel).unwrap_err();
            assert!(err.0.contains(words), "{sel}: {err}");
        }
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(|n| json!(n)),
            (-5.0f64..5.0).prop_map(|n| json!((n * 4.0).round() / 4.0)),
            "[a-cA-C\u{e9}\u{1f600}]{0,3}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[ab]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The reference for scalars: type rank, then the plain comparison of each type
    /// (strings by their UTF-16 code units, as JavaScript's `<`).
    fn reference_cmp(a: &Value, b: &Value) -> Ordering {
        fn key(v: &Value) -> (u8, f64, Vec<u16>) {
            match v {
                Value::Null => (0, 0.0, vec![]),
                Value::Bool(b) => (1, f64::from(u8::from(*b)), vec![]),
                Value::Number(n) => (2, n.as_f64().unwrap(), vec![]),
                Value::String(s) => (3, 0.0, s.encode_utf16().collect()),
                _ => unreachable!(),
            }
        }
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.partial_cmp(&kb.1).unwrap())
            .then(ka.2.cmp(&kb.2))
    }

    proptest! {
        #[test]
        fn collate_matches_the_reference_on_scalars(a in scalar(), b in scalar()) {
            prop_assert_eq!(collate(&a, &b), reference_cmp(&a, &b));
        }

        #[test]
        fn collate_is_a_total_order(a in value(), b in value(), c in value()) {
            prop_assert_eq!(collate(&a, &b), collate(&b, &a).reverse());
            prop_assert_eq!(collate(&a, &a), Ordering::Equal);
            if collate(&a, &b) != Ordering::Greater && collate(&b, &c) != Ordering::Greater {
                prop_assert!(collate(&a, &c) != Ordering::Greater);
            }
        }

        /// Each operator against a model written from its definition.
        #[test]
        fn operators_match_their_definitions(field in prop::option::of(value()), arg in scalar(), list in prop::collection::vec(scalar(), 0..4)) {
            let doc = match &field { Some(v) => json!({"f": v}), None => json!({}) };
            let f = field.as_ref();
            let cmp = |o: &Value| f.map(|v| collate(v, o));
            prop_assert_eq!(m(json!({"f": {"$gt": arg}}), doc.clone()), cmp(&arg) == Some(Ordering::Greater));
            prop_assert_eq!(m(json!({"f": {"$lte": arg}}), doc.clone()), matches!(cmp(&arg), Some(Ordering::Less | Ordering::Equal)));
            prop_assert_eq!(m(json!({"f": {"$eq": arg}}), doc.clone()), cmp(&arg) == Some(Ordering::Equal));
            let defined_nonnull = f.is_some_and(|v| !v.is_null());
            let any_eq = |v: &Value| list.iter().any(|w| match v {
                Value::Array(items) => items.iter().any(|i| collate(i, w) == Ordering::Equal),
                other => collate(other, w) == Ordering::Equal,
            });
            prop_assert_eq!(m(json!({"f": {"$in": list}}), doc.clone()), defined_nonnull && any_eq(f.unwrap()));
            prop_assert_eq!(m(json!({"f": {"$nin": list}}), doc.clone()), defined_nonnull && !any_eq(f.unwrap()));
            // Combinators are boolean algebra over their parts.
            let a = m(json!({"f": {"$gt": arg}}), doc.clone());
            let b = m(json!({"f": {"$in": list}}), doc.clone());
            prop_assert_eq!(m(json!({"$or": [{"f": {"$gt": arg}}, {"f": {"$in": list}}]}), doc.clone()), a || b);
            prop_assert_eq!(m(json!({"$and": [{"f": {"$gt": arg}}, {"f": {"$in": list}}]}), doc.clone()), a && b);
            prop_assert_eq!(m(json!({"$nor": [{"f": {"$gt": arg}}, {"f": {"$in": list}}]}), doc.clone()), !(a || b));
            prop_assert_eq!(m(json!({"f": {"$not": {"$gt": arg}}}), doc.clone()), !a);
            prop_assert_eq!(m(json!({"f": {"$exists": true}}), doc), f.is_some());
        }
    }
}
