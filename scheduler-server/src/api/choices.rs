//! Strings from a fixed set — the core's enums (`RunStatus`, `MisfirePolicy`, ...), time-zone
//! names, sort orders — documented once as a named string enum and written on the wire as
//! text. The core's enums are the single source of their spellings: no mirror enum here.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use scheduler_core::{HttpTarget, JobOrdering, Timezone, WireEnum};
use serde_json::Value;

/// A named set of strings a field or parameter accepts.
pub trait ChoiceSet: Send + Sync + 'static {
    /// The schema's name in the document.
    fn name() -> String;
    /// What the set is.
    fn description() -> &'static str;
    /// The accepted strings.
    fn choices() -> Vec<&'static str>;
}

/// Every core enum with a wire spelling is a choice set named after its type.
impl<T: WireEnum + Send + Sync + 'static> ChoiceSet for T {
    fn name() -> String {
        let full = std::any::type_name::<T>();
        full.rsplit("::").next().unwrap_or(full).to_string()
    }

    fn description() -> &'static str {
        "One of the listed values."
    }

    fn choices() -> Vec<&'static str> {
        T::choices().to_vec()
    }
}

/// Every IANA time-zone name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezones;

impl ChoiceSet for Timezones {
    fn name() -> String {
        "Timezone".into()
    }

    fn description() -> &'static str {
        "An IANA time-zone name."
    }

    fn choices() -> Vec<&'static str> {
        Timezone::names().collect()
    }
}

/// The sort orders of a job list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orderings;

impl ChoiceSet for Orderings {
    fn name() -> String {
        "JobOrdering".into()
    }

    fn description() -> &'static str {
        "A sort column; a `-` prefix sorts descending."
    }

    fn choices() -> Vec<&'static str> {
        JobOrdering::CHOICES.to_vec()
    }
}

/// The methods an HTTP target may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetMethods;

impl ChoiceSet for TargetMethods {
    fn name() -> String {
        "TargetMethod".into()
    }

    fn description() -> &'static str {
        "An HTTP method (any case is accepted)."
    }

    fn choices() -> Vec<&'static str> {
        HttpTarget::METHODS.to_vec()
    }
}

/// The kinds of target: only `http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetTypes;

impl ChoiceSet for TargetTypes {
    fn name() -> String {
        "TargetType".into()
    }

    fn description() -> &'static str {
        "The kind of target."
    }

    fn choices() -> Vec<&'static str> {
        vec!["http"]
    }
}

/// A string that is one of `C`'s choices, documented by reference to the named enum schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct OneOf<C>(String, #[serde(skip)] PhantomData<C>);

impl<C> OneOf<C> {
    /// The choice `text` (the caller vouches that it is one).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into(), PhantomData)
    }
}

impl<T: WireEnum + Send + Sync + 'static> From<T> for OneOf<T> {
    fn from(value: T) -> Self {
        Self::new(value.as_str())
    }
}

impl<C: ChoiceSet> Type for OneOf<C> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        C::name().into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(C::name())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(C::name(), |_| MetaSchema {
            description: Some(C::description()),
            enum_items: C::choices().into_iter().map(Value::from).collect(),
            ..MetaSchema::new("string")
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<C: ChoiceSet> ParseFromJSON for OneOf<C> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Self::new(text)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<C: ChoiceSet> ToJSON for OneOf<C> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::RunStatus;

    #[test]
    fn core_enums_are_named_after_their_type_and_list_their_spellings() {
        assert_eq!(<RunStatus as ChoiceSet>::name(), "RunStatus");
        assert!(<RunStatus as ChoiceSet>::choices().contains(&"timed_out"));
        let written = serde_json::to_string(&OneOf::from(RunStatus::TimedOut)).unwrap();
        assert_eq!(written, "\"timed_out\"");
    }
}
