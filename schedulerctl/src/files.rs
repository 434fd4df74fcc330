//! Job files for `apply`, `diff` and `get jobs`: YAML or JSON (by extension; standard input
//! as `-` is read as YAML, of which JSON is a subset), one file or every `.yaml`, `.yml` and
//! `.json` file of a directory, each `{owner, jobs: [...]}`, read into the server's JSON.
//!
//! The conversion is written out rather than taken from serde (as is `output::to_yaml`): the workspace's serde_json
//! keeps numbers exactly (`arbitrary_precision`), and such a number serialized into another
//! format becomes a private map instead of a number.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use yaml_serde::Value as Yaml;

use crate::body::{read_text, source};
use crate::failure::Failure;
#[cfg(test)]
use crate::output::yaml_text;

/// One job of a file set, and where it was read.
#[derive(Debug, Clone)]
pub(crate) struct FileJob {
    /// The file it is in, as named in messages.
    pub(crate) file: String,
    /// Its name (empty when the file gives none: the server says so).
    pub(crate) name: String,
    /// Its fields as written.
    pub(crate) body: Value,
}

/// The jobs of every file `paths` names, and their owner (`--owner`, or the one the files
/// agree on).
#[derive(Debug)]
pub(crate) struct FileSet {
    /// Whose set it is.
    pub(crate) owner: String,
    /// Every job, in file order (files in the order given, a directory's by name).
    pub(crate) jobs: Vec<FileJob>,
}

impl FileSet {
    /// Reads every file of `paths`; `owner` overrides the files' own.
    ///
    /// # Errors
    /// `Usage` for a file that cannot be read or parsed, that is not `{owner, jobs}`, files
    /// naming different owners, or no owner at all.
    pub(crate) fn read(paths: &[PathBuf], owner: Option<&str>) -> Result<FileSet, Failure> {
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|error| {
                        Failure::Usage(format!("cannot read {}: {error}", path.display()))
                    })?
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|file| {
                        file.is_file()
                            && file
                                .extension()
                                .and_then(|e| e.to_str())
                                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                    })
                    .collect();
                inside.sort();
                if inside.is_empty() {
                    return Err(Failure::Usage(format!(
                        "{} holds no .yaml, .yml or .json file",
                        path.display()
                    )));
                }
                files.extend(inside);
            } else {
                files.push(path.clone());
            }
        }
        let mut found_owner: Option<(String, String)> = None;
        let mut jobs = Vec::new();
        for file in &files {
            let shown = source(file);
            let document = parse(file)?;
            let Value::Object(mut document) = document else {
                return Err(Failure::Usage(format!(
                    "{shown} must hold an object: owner: <name> and jobs: [...]"
                )));
            };
            if let Some(named) = document.remove("owner") {
                let Value::String(named) = named else {
                    return Err(Failure::Usage(format!("{shown}: owner must be a text")));
                };
                match &found_owner {
                    Some((other, from)) if *other != named && owner.is_none() => {
                        return Err(Failure::Usage(format!(
                            "{shown} names owner \"{named}\" but {from} names \"{other}\": \
                             one apply manages one owner's jobs"
                        )));
                    }
                    Some(_) => {}
                    None => found_owner = Some((named, shown.clone())),
                }
            }
            let listed = match document.remove("jobs") {
                Some(Value::Array(listed)) => listed,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(Failure::Usage(format!("{shown}: jobs must be a list")));
                }
            };
            if let Some(unknown) = document.keys().next() {
                return Err(Failure::Usage(format!(
                    "{shown}: unknown key \"{unknown}\" (a file holds owner and jobs)"
                )));
            }
            for body in listed {
                let name = body
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                jobs.push(FileJob {
                    file: shown.clone(),
                    name,
                    body,
                });
            }
        }
        let owner = match (owner, found_owner) {
            (Some(owner), _) => owner.to_string(),
            (None, Some((owner, _))) => owner,
            (None, None) => {
                return Err(Failure::Usage(
                    "no owner: write owner: <name> in the file, or pass --owner".into(),
                ));
            }
        };
        Ok(FileSet { owner, jobs })
    }
}

/// The document in `file`: JSON for `.json`, YAML otherwise.
fn parse(file: &Path) -> Result<Value, Failure> {
    let text = read_text(file)?;
    let shown = source(file);
    if file.extension().and_then(|e| e.to_str()) == Some("json") {
        return serde_json::from_str(&text)
            .map_err(|error| Failure::Usage(format!("{shown} is not JSON: {error}")));
    }
    let yaml: Yaml = yaml_serde::from_str(&text)
        .map_err(|error| Failure::Usage(format!("{shown} is not YAML: {error}")))?;
    from_yaml(yaml).map_err(|why| Failure::Usage(format!("{shown}: {why}")))
}

/// A YAML value as JSON.
///
/// # Errors
/// A mapping key that is not text, a tagged value, or a number JSON cannot hold.
pub(crate) fn from_yaml(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("the number {n} has no JSON form"))?
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(from_yaml).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let Yaml::String(key) = key else {
                    return Err(format!("a key must be text, not {key:?}"));
                };
                object.insert(key, from_yaml(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => return Err(format!("tags are not read ({})", tagged.tag)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_convert_both_ways_with_exact_numbers() {
        let value = json!({"name": "a", "n": 3, "big": 18446744073709551615u64, "f": 1.5,
            "list": [true, null, "x"], "nested": {"k": -2}});
        let text = yaml_text(&value, &["name"]).unwrap();
        assert!(text.starts_with("name: a\n"), "{text}");
        assert!(!text.contains("serde_json"), "{text}");
        let back = from_yaml(yaml_serde::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn cron_expressions_survive_unquoted_where_yaml_allows() {
        let yaml: Yaml = yaml_serde::from_str("cron_expression: 0 2 * * *\n").unwrap();
        assert_eq!(
            from_yaml(yaml).unwrap(),
            json!({"cron_expression": "0 2 * * *"})
        );
        // Written out, a `*` at the start is quoted so it reads back as text.
        let text = yaml_text(&json!({"cron_expression": "*/5 * * * *"}), &[]).unwrap();
        let back = from_yaml(yaml_serde::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, json!({"cron_expression": "*/5 * * * *"}));
    }

    #[test]
    fn non_text_keys_are_refused() {
        let yaml: Yaml = yaml_serde::from_str("1: one\n").unwrap();
        assert!(from_yaml(yaml).unwrap_err().contains("key must be text"));
    }
}
