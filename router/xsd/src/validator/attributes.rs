//! Attributes: declared uses, wildcards, fixed values and `xs:ID` uniqueness.

use super::Validator;
use super::messages::{attr_display, display_name};
use crate::error::{Violation, ViolationKind};
use crate::model::{ProcessContents, SimpleTypeId, TypeRef, ValueConstraint};
use crate::names::XSI;
use crate::types::builtin::Builtin;
use crate::types::simple::{self, SimpleTypes, Variety, shorten};
use crate::types::value::Value;
use crate::validator::StartElement;

impl<'s> Validator<'s> {
    pub(super) fn check_attributes(
        &mut self,
        ty: TypeRef,
        el: &StartElement<'_>,
    ) -> Result<(), Violation> {
        let set = self.set;
        let (uses, wildcard) = match ty {
            TypeRef::Simple(_) => (&[][..], None),
            TypeRef::Complex(c) => {
                let ct = set.complex(c);
                (&ct.attributes[..], ct.attribute_wildcard.as_ref())
            }
        };
        for a in el.attributes {
            if a.namespace == Some(XSI)
                && matches!(
                    a.local_name,
                    "type" | "nil" | "schemaLocation" | "noNamespaceSchemaLocation"
                )
            {
                continue;
            }
            let ans = self.ns_id(a.namespace);
            if let Some(u) = uses
                .iter()
                .find(|u| u.name.ns == ans && &*u.name.local == a.local_name)
            {
                let fixed = u.constraint.as_ref().filter(|c| c.fixed);
                self.check_attribute_value(el, u.ty, a.local_name, a.value, fixed)?;
                continue;
            }
            match wildcard {
                Some(w) if w.ns.allows(ans) => match w.process {
                    ProcessContents::Skip => {}
                    process => match set.global_attributes.get_ref(ans, a.local_name) {
                        Some(d) => {
                            let fixed = d.constraint.as_ref().filter(|c| c.fixed);
                            self.check_attribute_value(el, d.ty, a.local_name, a.value, fixed)?;
                        }
                        None if process == ProcessContents::Strict => {
                            return self.fail(
                                ViolationKind::UnexpectedAttribute,
                                el.line,
                                el.column,
                                format!("no global declaration for attribute {} (demanded by a strict wildcard)", attr_display(a)),
                                None,
                            );
                        }
                        None => {}
                    },
                },
                _ => {
                    return self.fail(
                        ViolationKind::UnexpectedAttribute,
                        el.line,
                        el.column,
                        format!(
                            "attribute {} is not allowed on element {}",
                            attr_display(a),
                            display_name(el)
                        ),
                        None,
                    );
                }
            }
        }
        for u in uses.iter().filter(|u| u.required) {
            let present = el.attributes.iter().any(|a| {
                &*u.name.local == a.local_name && self.set.ns.lookup(a.namespace) == u.name.ns
            });
            if !present {
                return self.fail(
                    ViolationKind::MissingAttribute,
                    el.line,
                    el.column,
                    format!("required attribute {} is missing", u.name.local),
                    None,
                );
            }
        }
        Ok(())
    }

    pub(super) fn check_attribute_value(
        &mut self,
        el: &StartElement<'_>,
        ty: SimpleTypeId,
        name: &str,
        value: &str,
        fixed: Option<&ValueConstraint>,
    ) -> Result<(), Violation> {
        let set = self.set;
        // libxml2 whitespace-normalises the value of an attribute that has a fixed value.
        match simple::validate_as(set, ty, value, el.namespaces, fixed.is_some()) {
            Ok(v) => {
                if let Some(c) = fixed
                    && c.value.as_ref().is_some_and(|f| !v.equals(f))
                {
                    let lexical = &c.lexical;
                    return self.fail(
                        ViolationKind::FixedValueMismatch,
                        el.line,
                        el.column,
                        format!(
                            "attribute {name} has value '{}' but is fixed",
                            shorten(value)
                        ),
                        Some(format!("'{lexical}'")),
                    );
                }
                self.register_ids(ty, &v, el.line, el.column)
            }
            Err(e) => self.fail(
                ViolationKind::InvalidValue,
                el.line,
                el.column,
                format!("attribute {name}: {}", e.message),
                e.expected,
            ),
        }
    }

    /// Records `xs:ID` values; a repeated one is a violation.
    pub(super) fn register_ids(
        &mut self,
        ty: SimpleTypeId,
        value: &Value,
        line: u32,
        column: u32,
    ) -> Result<(), Violation> {
        let set = self.set;
        let st = set.simple(ty);
        let ids: Vec<&str> = match (&st.variety, value) {
            (Variety::Atomic, Value::Str(s)) if st.builtin.derives_from(Builtin::Id) => vec![&**s],
            (Variety::List(item), Value::List(items))
                if set.simple(*item).builtin.derives_from(Builtin::Id) =>
            {
                items
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(&**s),
                        _ => None,
                    })
                    .collect()
            }
            _ => return Ok(()),
        };
        for id in ids {
            if !self.ids.insert(id.into()) {
                return self.fail(
                    ViolationKind::DuplicateId,
                    line,
                    column,
                    format!("ID value '{}' is not unique", shorten(id)),
                    None,
                );
            }
        }
        Ok(())
    }
}
