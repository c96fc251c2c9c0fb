//! Simple type definitions: restriction (with facets), list and union.

use super::{Compiler, loader::parse_derivations};
use crate::error::CompileError;
use crate::model::{Derivations, SimpleTypeId};
use crate::names::QName;
use crate::regex::Pattern;
use crate::schema_doc::Node;
use crate::types::builtin::{Builtin, WhiteSpace};
use crate::types::simple::{FacetValue, SimpleType, SimpleTypes, Variety, validate};

impl<'d> Compiler<'d> {
    fn push_simple(&mut self, st: SimpleType) -> SimpleTypeId {
        self.set.simple_types.push(st);
        SimpleTypeId(u32::try_from(self.set.simple_types.len() - 1).unwrap_or(u32::MAX))
    }

    /// Compiles an `xs:simpleType` element (named or anonymous).
    pub(super) fn simple_type(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: Option<QName>,
    ) -> Result<SimpleTypeId, CompileError> {
        let final_ = match node.attr("final") {
            Some(v) => parse_derivations(v),
            None => self.doc(doc).final_default,
        };
        let mut children = node.xs_children();
        let Some(def) = children.next() else {
            return Err(self.invalid(doc, node, "xs:simpleType needs restriction, list or union"));
        };
        if let Some(extra) = children.next() {
            return Err(self.invalid(
                doc,
                extra,
                format!("unexpected xs:{} in xs:simpleType", extra.local),
            ));
        }
        let st = match &*def.local {
            "restriction" => {
                let base = self.restriction_base(doc, def)?;
                self.restrict(doc, def, base, name, final_)?
            }
            "list" => {
                let item = match def.attr("itemType") {
                    Some(q) => {
                        let q = self.resolve_qname(doc, def, q)?;
                        self.resolve_simple(doc, def, &q)?
                    }
                    None => match def.xs_children().find(|c| c.is_xs("simpleType")) {
                        Some(inline) => self.simple_type(doc, inline, None)?,
                        None => {
                            return Err(self.invalid(
                                doc,
                                def,
                                "xs:list needs itemType or a simpleType",
                            ));
                        }
                    },
                };
                let item_st = self.set.simple(item);
                if matches!(item_st.variety, Variety::List(_))
                    || item == SimpleTypeId::builtin(Builtin::AnySimpleType)
                {
                    return Err(self.invalid(
                        doc,
                        def,
                        "the item type of a list must be atomic or a union",
                    ));
                }
                if item_st.final_.has(Derivations::LIST) {
                    return Err(self.invalid(doc, def, "the item type is final for list"));
                }
                SimpleType {
                    name,
                    base: Some(SimpleTypeId::builtin(Builtin::AnySimpleType)),
                    variety: Variety::List(item),
                    builtin: Builtin::AnySimpleType,
                    whitespace: WhiteSpace::Collapse,
                    facets: Default::default(),
                    final_,
                    prenormalize: false,
                }
            }
            "union" => {
                let mut members = Vec::new();
                for q in def.attr("memberTypes").unwrap_or("").split_whitespace() {
                    let q = self.resolve_qname(doc, def, q)?;
                    members.push(self.resolve_simple(doc, def, &q)?);
                }
                for inline in def.xs_children() {
                    if !inline.is_xs("simpleType") {
                        return Err(self.invalid(
                            doc,
                            inline,
                            format!("unexpected xs:{} in xs:union", inline.local),
                        ));
                    }
                    members.push(self.simple_type(doc, inline, None)?);
                }
                if members.is_empty() {
                    return Err(self.invalid(doc, def, "xs:union without member types"));
                }
                if members
                    .iter()
                    .any(|m| self.set.simple(*m).final_.has(Derivations::UNION))
                {
                    return Err(self.invalid(doc, def, "a member type is final for union"));
                }
                SimpleType {
                    name,
                    base: Some(SimpleTypeId::builtin(Builtin::AnySimpleType)),
                    variety: Variety::Union(members),
                    builtin: Builtin::AnySimpleType,
                    whitespace: WhiteSpace::Collapse,
                    facets: Default::default(),
                    final_,
                    prenormalize: false,
                }
            }
            other => {
                return Err(self.unsupported(doc, def, format!("xs:{other} in xs:simpleType")));
            }
        };
        Ok(self.push_simple(st))
    }

    /// The base of an `xs:restriction` in a simple type: `base` or an inline simple type.
    fn restriction_base(
        &mut self,
        doc: usize,
        def: &'d Node,
    ) -> Result<SimpleTypeId, CompileError> {
        match def.attr("base") {
            Some(q) => {
                let q = self.resolve_qname(doc, def, q)?;
                self.resolve_simple(doc, def, &q)
            }
            None => match def.xs_children().find(|c| c.is_xs("simpleType")) {
                Some(inline) => self.simple_type(doc, inline, None),
                None => Err(self.invalid(doc, def, "xs:restriction needs base or a simpleType")),
            },
        }
    }

    /// Derives a simple type by restriction: the facets given as children of `def` are added to
    /// those inherited from `base`. Also used for the content of simpleContent restrictions.
    pub(super) fn restrict(
        &mut self,
        doc: usize,
        def: &'d Node,
        base_id: SimpleTypeId,
        name: Option<QName>,
        final_: Derivations,
    ) -> Result<SimpleType, CompileError> {
        let base = self.set.simple(base_id).clone();
        if base.final_.has(Derivations::RESTRICTION) {
            return Err(self.invalid(doc, def, "the base type is final for restriction"));
        }
        if base_id == SimpleTypeId::builtin(Builtin::AnySimpleType)
            && def.xs_children().next().is_some()
        {
            return Err(self.invalid(doc, def, "facets cannot restrict xs:anySimpleType"));
        }
        let mut st = SimpleType {
            name,
            base: Some(base_id),
            final_,
            ..base.clone()
        };
        let atomic = matches!(base.variety, Variety::Atomic);
        let union = matches!(base.variety, Variety::Union(_));
        let list = matches!(base.variety, Variety::List(_));
        let mut patterns = Vec::new();
        let mut enumeration = Vec::new();
        for f in def.xs_children() {
            if f.is_xs("simpleType")
                || f.is_xs("attribute")
                || f.is_xs("attributeGroup")
                || f.is_xs("anyAttribute")
            {
                continue;
            }
            let facet = &*f.local;
            let value = f
                .attr("value")
                .ok_or_else(|| self.invalid(doc, f, format!("facet {facet} without value")))?;
            let not_applicable = || {
                self.invalid(
                    doc,
                    f,
                    format!("facet {facet} does not apply to the base type"),
                )
            };
            if union && !matches!(facet, "pattern" | "enumeration") {
                return Err(not_applicable());
            }
            match facet {
                "length" | "minLength" | "maxLength" => {
                    if !(list || (atomic && base.builtin.has_length())) {
                        return Err(not_applicable());
                    }
                    let n = value.trim().parse::<usize>().map_err(|_| {
                        self.invalid(
                            doc,
                            f,
                            format!("{facet}={value:?} is not a non-negative integer"),
                        )
                    })?;
                    match facet {
                        "length" => st.facets.length = Some(n),
                        "minLength" => st.facets.min_length = Some(n),
                        _ => st.facets.max_length = Some(n),
                    }
                }
                "totalDigits" | "fractionDigits" => {
                    if !(atomic && base.builtin.is_decimal()) {
                        return Err(not_applicable());
                    }
                    let n = value.trim().parse::<usize>().map_err(|_| {
                        self.invalid(
                            doc,
                            f,
                            format!("{facet}={value:?} is not a non-negative integer"),
                        )
                    })?;
                    if facet == "totalDigits" {
                        if n == 0 {
                            return Err(self.invalid(doc, f, "totalDigits must be positive"));
                        }
                        st.facets.total_digits = Some(n);
                    } else {
                        st.facets.fraction_digits = Some(n);
                    }
                }
                "minInclusive" | "minExclusive" | "maxInclusive" | "maxExclusive" => {
                    if !(atomic && base.builtin.is_ordered()) {
                        return Err(not_applicable());
                    }
                    let v = validate(&self.set, base_id, value, &*f.scope).map_err(|e| {
                        self.invalid(doc, f, format!("{facet} value: {}", e.message))
                    })?;
                    let fv = FacetValue {
                        value: v,
                        lexical: value.into(),
                    };
                    match facet {
                        "minInclusive" => st.facets.min_inclusive = Some(fv),
                        "minExclusive" => st.facets.min_exclusive = Some(fv),
                        "maxInclusive" => st.facets.max_inclusive = Some(fv),
                        _ => st.facets.max_exclusive = Some(fv),
                    }
                }
                "whiteSpace" => {
                    let ws = match value.trim() {
                        "preserve" => WhiteSpace::Preserve,
                        "replace" => WhiteSpace::Replace,
                        "collapse" => WhiteSpace::Collapse,
                        other => return Err(self.invalid(doc, f, format!("whiteSpace={other:?}"))),
                    };
                    if ws < base.whitespace {
                        return Err(self.invalid(
                            doc,
                            f,
                            "whiteSpace cannot be relaxed in a restriction",
                        ));
                    }
                    st.whitespace = ws;
                }
                "pattern" => {
                    let p = Pattern::new(value).map_err(|message| CompileError::Pattern {
                        at: self.at(doc, f),
                        pattern: value.into(),
                        message,
                    })?;
                    patterns.push(p);
                }
                "enumeration" => enumeration.push(f),
                "assertion" | "explicitTimezone" => {
                    return Err(self.unsupported(doc, f, format!("xs:{facet} (XSD 1.1)")));
                }
                other => return Err(self.unsupported(doc, f, format!("facet xs:{other}"))),
            }
        }
        if !patterns.is_empty() {
            st.facets.patterns.push(patterns);
            st.prenormalize = true;
        }
        if !enumeration.is_empty() {
            let mut values = Vec::with_capacity(enumeration.len());
            for f in enumeration {
                let lexical = f.attr("value").unwrap_or("");
                let v = validate(&self.set, base_id, lexical, &*f.scope).map_err(|e| {
                    self.invalid(doc, f, format!("enumeration value: {}", e.message))
                })?;
                values.push(FacetValue {
                    value: v,
                    lexical: lexical.into(),
                });
            }
            st.facets.enumeration = Some(values);
            st.prenormalize = true;
        }
        Ok(st)
    }

    /// Registers a simple type built by `restrict` for complex simple content.
    pub(super) fn push_derived_simple(&mut self, st: SimpleType) -> SimpleTypeId {
        self.push_simple(st)
    }
}
