//! Entering an element: which declaration or type applies (`xsi:type`, `xsi:nil`, lax
//! assessment) and which frame it opens.

use super::messages::display_name;
use super::{Frame, Kind, Snapshot, Validator};
use crate::error::{Violation, ViolationKind};
use crate::model::{ContentModel, ContentType, Derivations, ElemId, SimpleTypeId, TypeRef};
use crate::names::XSI;
use crate::types::builtin::Builtin;
use crate::types::simple::{is_xml_space, shorten};
use crate::validator::StartElement;
use crate::xmlchar;

impl<'s> Validator<'s> {
    /// An element matched laxly without declaration: `xsi:type` still applies when given.
    pub(super) fn enter_lax(
        &mut self,
        el: &StartElement<'_>,
        path_len: usize,
    ) -> Result<(), Violation> {
        if let Some(v) = xsi_attr(el, "type") {
            let ty = self.resolve_xsi_type(el, v)?;
            return self.enter_typed(None, ty, false, el, path_len);
        }
        // Attributes are assessed laxly: checked only where a global declaration exists.
        for a in el.attributes {
            if a.namespace == Some(XSI) {
                continue;
            }
            let ans = self.ns_id(a.namespace);
            if let Some(decl) = self.set.global_attributes.get_ref(ans, a.local_name) {
                let (ty, name) = (decl.ty, a.local_name.to_owned());
                self.check_attribute_value(el, ty, &name, a.value, None)?;
            }
        }
        self.stack.push(Frame {
            kind: Kind::Lax,
            decl: None,
            path_len,
            line: el.line,
            column: el.column,
            scope: None,
        });
        Ok(())
    }

    pub(super) fn resolve_xsi_type(
        &mut self,
        el: &StartElement<'_>,
        value: &str,
    ) -> Result<TypeRef, Violation> {
        let (line, column) = (el.line, el.column);
        // libxml2 does not strip whitespace around an xsi:type value.
        let v = value;
        let Some((prefix, local)) = xmlchar::split_qname(v) else {
            return self.fail(
                ViolationKind::InvalidXsiType,
                line,
                column,
                format!("xsi:type value '{}' is not a QName", shorten(v)),
                None,
            );
        };
        let uri = match prefix {
            Some(p) => match el.namespaces.resolve(Some(p)) {
                Some(u) => Some(u),
                None => {
                    return self.fail(
                        ViolationKind::InvalidXsiType,
                        line,
                        column,
                        format!("xsi:type prefix '{p}' is not bound"),
                        None,
                    );
                }
            },
            None => el.namespaces.resolve(None),
        };
        if uri == Some(crate::names::XS) && local == "anyType" {
            return Ok(TypeRef::Complex(crate::model::ANY_TYPE));
        }
        if uri == Some(crate::names::XS)
            && let Some(b) = Builtin::by_name(local)
        {
            return Ok(TypeRef::Simple(SimpleTypeId::builtin(b)));
        }
        let ns = self.ns_id(uri);
        match self.set.global_types.get(ns, local) {
            Some(t) => Ok(t),
            None => self.fail(
                ViolationKind::InvalidXsiType,
                line,
                column,
                format!("xsi:type names an unknown type '{}'", shorten(v)),
                None,
            ),
        }
    }

    pub(super) fn enter_declared(
        &mut self,
        decl_id: ElemId,
        el: &StartElement<'_>,
        path_len: usize,
    ) -> Result<(), Violation> {
        let set = self.set;
        let decl = set.element(decl_id);
        let (line, column) = (el.line, el.column);
        if decl.is_abstract {
            return self.fail(
                ViolationKind::AbstractElement,
                line,
                column,
                format!("element {} is declared abstract", display_name(el)),
                None,
            );
        }
        let mut ty = decl.ty;
        if let Some(v) = xsi_attr(el, "type") {
            let t = self.resolve_xsi_type(el, v)?;
            let mut blocked = decl.block.0 & (Derivations::EXTENSION | Derivations::RESTRICTION);
            if let TypeRef::Complex(c) = decl.ty {
                blocked |= set.complex(c).block.0;
            }
            if !set.derives_from(t, decl.ty, blocked) {
                return self.fail(
                    ViolationKind::InvalidXsiType,
                    line,
                    column,
                    format!(
                        "xsi:type {} is not validly derived from the declared type {}",
                        set.type_name(t),
                        set.type_name(decl.ty)
                    ),
                    None,
                );
            }
            ty = t;
        }
        let mut nilled = false;
        if let Some(v) = xsi_attr(el, "nil") {
            if !decl.nillable {
                return self.fail(
                    ViolationKind::InvalidNil,
                    line,
                    column,
                    format!("element {} is not nillable", display_name(el)),
                    None,
                );
            }
            nilled = match v.trim_matches(is_xml_space) {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return self.fail(
                        ViolationKind::InvalidValue,
                        line,
                        column,
                        format!("xsi:nil value '{}' is not a boolean", shorten(other)),
                        None,
                    );
                }
            };
            if nilled && decl.constraint.as_ref().is_some_and(|c| c.fixed) {
                return self.fail(
                    ViolationKind::InvalidNil,
                    line,
                    column,
                    "a nilled element cannot have a fixed value".into(),
                    None,
                );
            }
        }
        self.enter_typed(Some(decl_id), ty, nilled, el, path_len)
    }

    pub(super) fn enter_typed(
        &mut self,
        decl: Option<ElemId>,
        ty: TypeRef,
        nilled: bool,
        el: &StartElement<'_>,
        path_len: usize,
    ) -> Result<(), Violation> {
        let set = self.set;
        if let TypeRef::Complex(c) = ty
            && set.complex(c).is_abstract
        {
            return self.fail(
                ViolationKind::AbstractType,
                el.line,
                el.column,
                format!(
                    "type {} of element {} is abstract",
                    set.type_name(ty),
                    display_name(el)
                ),
                None,
            );
        }
        self.check_attributes(ty, el)?;
        let kind = if nilled {
            Kind::Nilled
        } else {
            match ty {
                TypeRef::Simple(st) => Kind::Simple { st },
                TypeRef::Complex(ct) => match &set.complex(ct).content {
                    ContentType::Empty => Kind::Empty,
                    ContentType::Simple(st) => Kind::Simple { st: *st },
                    ContentType::Elements {
                        model: ContentModel::Automaton(_),
                        mixed,
                    } => Kind::Automaton {
                        ct,
                        state: 0,
                        mixed: *mixed,
                    },
                    ContentType::Elements {
                        model: ContentModel::All(_),
                        mixed,
                    } => Kind::All {
                        ct,
                        seen: 0,
                        mixed: *mixed,
                    },
                },
            }
        };
        let scope = match kind {
            Kind::Simple { st } if set.needs_ns(st) => {
                let mut bindings = Vec::new();
                el.namespaces.for_each_binding(&mut |p, u| {
                    bindings.push((p.map(str::to_owned), u.to_owned()))
                });
                Some(Box::new(Snapshot(bindings)))
            }
            _ => None,
        };
        self.text.clear();
        self.stack.push(Frame {
            kind,
            decl,
            path_len,
            line: el.line,
            column: el.column,
            scope,
        });
        Ok(())
    }
}

fn xsi_attr<'a>(el: &StartElement<'a>, local: &str) -> Option<&'a str> {
    el.attributes
        .iter()
        .find(|a| a.namespace == Some(XSI) && a.local_name == local)
        .map(|a| a.value)
}
