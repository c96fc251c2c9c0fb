//! Content models as automata.
//!
//! A particle tree is expanded into a regular expression over positions (occurrence bounds
//! become copies: `x{2,4}` is `x x (x (x)?)?`, nested so that a single particle never competes
//! with itself), and the Glushkov (position) automaton of that expression is built: one state per
//! position plus a start state. Unique Particle Attribution makes that automaton deterministic;
//! where it is not (two transitions of a state can match the same name) the schema is refused,
//! as libxml2 refuses it. Validation then needs one state number per open element.

use std::collections::{BTreeSet, HashSet};

use crate::model::{AllModel, Automaton, ContentModel, NsConstraint, State, Term, Transition};
use crate::names::NsId;

/// Occurrence bounds and term of a particle.
#[derive(Debug, Clone)]
pub(crate) struct Particle {
    pub(crate) min: u32,
    /// None is `unbounded`.
    pub(crate) max: Option<u32>,
    pub(crate) term: PTerm,
}

#[derive(Debug, Clone)]
pub(crate) enum PTerm {
    /// An element particle: the names it accepts (the declaration and its substitutes).
    Element(Vec<Term>),
    Wildcard(Term),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
    All(Vec<Particle>),
}

/// Limits that keep compiled automata small; schemas beyond them are refused.
const MAX_POSITIONS: usize = 10_000;
const MAX_TRANSITIONS: usize = 1_000_000;

/// Why a content model cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelError {
    NotDeterministic(String),
    TooLarge,
    MisplacedAll,
    /// `xs:all` with more members than the validator tracks (64).
    AllTooLarge,
}

enum Re {
    Empty,
    Sym(usize),
    Seq(Vec<Re>),
    Alt(Vec<Re>),
    /// `x1 (x2 (x3 ...)?)?` with each `xi` a fresh copy, kept flat so that large bounds do not
    /// nest (and recurse) deeply.
    Tail(Vec<Re>),
    Star(Box<Re>),
    Plus(Box<Re>),
}

struct Expander {
    positions: Vec<Vec<Term>>,
}

impl Expander {
    fn term(&mut self, term: &PTerm) -> Result<Re, ModelError> {
        Ok(match term {
            PTerm::Element(terms) => self.sym(terms.clone())?,
            PTerm::Wildcard(t) => self.sym(vec![t.clone()])?,
            PTerm::Sequence(ps) => Re::Seq(
                ps.iter()
                    .map(|p| self.particle(p))
                    .collect::<Result<_, _>>()?,
            ),
            PTerm::Choice(ps) => Re::Alt(
                ps.iter()
                    .map(|p| self.particle(p))
                    .collect::<Result<_, _>>()?,
            ),
            PTerm::All(_) => return Err(ModelError::MisplacedAll),
        })
    }

    fn sym(&mut self, terms: Vec<Term>) -> Result<Re, ModelError> {
        if self.positions.len() >= MAX_POSITIONS {
            return Err(ModelError::TooLarge);
        }
        self.positions.push(terms);
        Ok(Re::Sym(self.positions.len() - 1))
    }

    fn particle(&mut self, p: &Particle) -> Result<Re, ModelError> {
        if p.max == Some(0) {
            return Ok(Re::Empty);
        }
        let copies = p.max.unwrap_or(p.min.saturating_add(1));
        if copies as usize > MAX_POSITIONS {
            return Err(ModelError::TooLarge);
        }
        let mut seq = Vec::new();
        let required = p
            .min
            .saturating_sub(u32::from(p.max.is_none() && p.min > 0));
        for _ in 0..required {
            seq.push(self.term(&p.term)?);
        }
        match p.max {
            None if p.min == 0 => seq.push(Re::Star(Box::new(self.term(&p.term)?))),
            None => seq.push(Re::Plus(Box::new(self.term(&p.term)?))),
            Some(max) => {
                let mut tail = Vec::new();
                for _ in p.min..max {
                    tail.push(self.term(&p.term)?);
                }
                if !tail.is_empty() {
                    seq.push(Re::Tail(tail));
                }
            }
        }
        Ok(Re::Seq(seq))
    }
}

struct Glushkov {
    follow: Vec<BTreeSet<usize>>,
}

struct Info {
    nullable: bool,
    first: BTreeSet<usize>,
    last: BTreeSet<usize>,
}

impl Glushkov {
    fn info(&mut self, re: &Re) -> Info {
        match re {
            Re::Empty => Info {
                nullable: true,
                first: BTreeSet::new(),
                last: BTreeSet::new(),
            },
            Re::Sym(p) => Info {
                nullable: false,
                first: BTreeSet::from([*p]),
                last: BTreeSet::from([*p]),
            },
            Re::Seq(items) => {
                let mut acc = Info {
                    nullable: true,
                    first: BTreeSet::new(),
                    last: BTreeSet::new(),
                };
                for item in items {
                    let next = self.info(item);
                    for &p in &acc.last {
                        if let Some(f) = self.follow.get_mut(p) {
                            f.extend(next.first.iter().copied());
                        }
                    }
                    if acc.nullable {
                        acc.first.extend(next.first.iter().copied());
                    }
                    acc.last = if next.nullable {
                        acc.last.union(&next.last).copied().collect()
                    } else {
                        next.last
                    };
                    acc.nullable &= next.nullable;
                }
                acc
            }
            Re::Alt(items) => {
                // An empty choice matches nothing, not even the empty sequence.
                let mut acc = Info {
                    nullable: false,
                    first: BTreeSet::new(),
                    last: BTreeSet::new(),
                };
                for item in items {
                    let next = self.info(item);
                    acc.nullable |= next.nullable;
                    acc.first.extend(next.first);
                    acc.last.extend(next.last);
                }
                acc
            }
            Re::Tail(items) => {
                let infos: Vec<Info> = items.iter().map(|x| self.info(x)).collect();
                // Fold from the end: acc = (x_i acc)?, which is always nullable.
                let mut acc = Info {
                    nullable: true,
                    first: BTreeSet::new(),
                    last: BTreeSet::new(),
                };
                for x in infos.into_iter().rev() {
                    for &p in &x.last {
                        if let Some(f) = self.follow.get_mut(p) {
                            f.extend(acc.first.iter().copied());
                        }
                    }
                    let mut first = x.first;
                    if x.nullable {
                        first.extend(acc.first.iter().copied());
                    }
                    let mut last = acc.last;
                    last.extend(x.last);
                    acc = Info {
                        nullable: true,
                        first,
                        last,
                    };
                }
                acc
            }
            Re::Star(inner) | Re::Plus(inner) => {
                let i = self.info(inner);
                for &p in &i.last {
                    if let Some(f) = self.follow.get_mut(p) {
                        f.extend(i.first.iter().copied());
                    }
                }
                Info {
                    nullable: i.nullable || matches!(re, Re::Star(_)),
                    ..i
                }
            }
        }
    }
}

/// Whether two terms can match the same element name.
fn overlap(a: &Term, b: &Term) -> bool {
    match (a, b) {
        (Term::Element { ns, local, .. }, other) | (other, Term::Element { ns, local, .. }) => {
            other.matches(*ns, local)
        }
        (Term::Wildcard(x), Term::Wildcard(y)) => ns_overlap(&x.ns, &y.ns),
    }
}

fn ns_overlap(a: &NsConstraint, b: &NsConstraint) -> bool {
    match (a, b) {
        (NsConstraint::Any, _) | (_, NsConstraint::Any) => true,
        // Two negations both allow every namespace outside the two excluded ones.
        (NsConstraint::Not(_), NsConstraint::Not(_)) => true,
        (NsConstraint::Not(x), NsConstraint::Set(s))
        | (NsConstraint::Set(s), NsConstraint::Not(x)) => {
            s.iter().any(|n| n != x && *n != NsId::NONE)
        }
        (NsConstraint::Set(s), NsConstraint::Set(t)) => s.iter().any(|n| t.contains(n)),
    }
}

fn term_label(t: &Term, uri: &dyn Fn(NsId) -> String) -> String {
    match t {
        Term::Element { ns, local, .. } if *ns == NsId::NONE => local.to_string(),
        Term::Element { ns, local, .. } => format!("{{{}}}{}", uri(*ns), local),
        Term::Wildcard(_) => "a wildcard".into(),
    }
}

/// Checks that no two transitions of a state can match the same name.
fn check_deterministic(
    transitions: &[Transition],
    uri: &dyn Fn(NsId) -> String,
) -> Result<(), ModelError> {
    let mut names: HashSet<(NsId, &str)> = HashSet::new();
    let mut wildcards = 0usize;
    for t in transitions {
        match &t.term {
            Term::Element { ns, local, .. } => {
                if !names.insert((*ns, &**local)) {
                    return Err(ModelError::NotDeterministic(format!(
                        "{} can match two particles",
                        term_label(&t.term, uri)
                    )));
                }
            }
            Term::Wildcard(_) => wildcards += 1,
        }
    }
    if wildcards > 0 {
        for (i, a) in transitions.iter().enumerate() {
            for b in transitions.iter().skip(i + 1) {
                let wild =
                    matches!(a.term, Term::Wildcard(_)) || matches!(b.term, Term::Wildcard(_));
                if wild && overlap(&a.term, &b.term) {
                    let named = if matches!(a.term, Term::Wildcard(_)) {
                        &b.term
                    } else {
                        &a.term
                    };
                    return Err(ModelError::NotDeterministic(format!(
                        "a wildcard and {} can match the same element",
                        term_label(named, uri)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Compiles a particle tree into a content model.
pub(crate) fn compile(
    particle: &Particle,
    uri: &dyn Fn(NsId) -> String,
) -> Result<ContentModel, ModelError> {
    if let PTerm::All(members) = &particle.term {
        return compile_all(particle, members, uri);
    }
    let mut ex = Expander {
        positions: Vec::new(),
    };
    let re = ex.particle(particle)?;
    let mut g = Glushkov {
        follow: vec![BTreeSet::new(); ex.positions.len()],
    };
    let root = g.info(&re);
    let mut states = Vec::with_capacity(ex.positions.len() + 1);
    let mut total = 0usize;
    let mut build = |targets: &BTreeSet<usize>, accepting: bool| -> Result<State, ModelError> {
        let mut transitions = Vec::new();
        for &p in targets {
            for term in ex.positions.get(p).into_iter().flatten() {
                transitions.push(Transition {
                    term: term.clone(),
                    target: u32::try_from(p + 1).map_err(|_| ModelError::TooLarge)?,
                });
            }
        }
        total += transitions.len();
        if total > MAX_TRANSITIONS {
            return Err(ModelError::TooLarge);
        }
        check_deterministic(&transitions, uri)?;
        Ok(State {
            transitions,
            accepting,
        })
    };
    states.push(build(&root.first, root.nullable)?);
    for (p, follow) in g.follow.iter().enumerate() {
        states.push(build(follow, root.last.contains(&p))?);
    }
    Ok(ContentModel::Automaton(Automaton { states }))
}

fn compile_all(
    particle: &Particle,
    members: &[Particle],
    uri: &dyn Fn(NsId) -> String,
) -> Result<ContentModel, ModelError> {
    let mut out = Vec::new();
    let mut all_terms = Vec::new();
    for m in members {
        let PTerm::Element(terms) = &m.term else {
            return Err(ModelError::MisplacedAll);
        };
        if m.max == Some(0) {
            continue;
        }
        if m.max.is_none_or(|max| max > 1) {
            return Err(ModelError::MisplacedAll);
        }
        for t in terms {
            all_terms.push(Transition {
                term: t.clone(),
                target: 0,
            });
        }
        out.push((terms.clone(), m.min > 0));
    }
    if out.len() > 64 {
        return Err(ModelError::AllTooLarge);
    }
    check_deterministic(&all_terms, uri)?;
    Ok(ContentModel::All(AllModel {
        members: out,
        emptiable: particle.min == 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ElemId, ProcessContents, Wildcard};

    fn el(name: &str) -> Particle {
        one(PTerm::Element(vec![Term::Element {
            ns: NsId::NONE,
            local: name.into(),
            decl: ElemId(0),
        }]))
    }

    fn one(term: PTerm) -> Particle {
        Particle {
            min: 1,
            max: Some(1),
            term,
        }
    }

    fn occurs(mut p: Particle, min: u32, max: Option<u32>) -> Particle {
        p.min = min;
        p.max = max;
        p
    }

    fn uri(_: NsId) -> String {
        String::new()
    }

    /// Runs the automaton over a sequence of names.
    fn accepts(model: &ContentModel, names: &[&str]) -> bool {
        let ContentModel::Automaton(a) = model else {
            panic!("expected an automaton")
        };
        let mut state = 0usize;
        for n in names {
            let next = a.states[state]
                .transitions
                .iter()
                .find(|t| t.term.matches(NsId::NONE, n));
            match next {
                Some(t) => state = t.target as usize,
                None => return false,
            }
        }
        a.states[state].accepting
    }

    #[test]
    fn sequence_with_bounds_accepts_exactly_the_allowed_counts() {
        let p = one(PTerm::Sequence(vec![
            el("a"),
            occurs(el("b"), 2, Some(3)),
            occurs(el("c"), 0, None),
        ]));
        let m = compile(&p, &uri).expect("compiles");
        assert!(accepts(&m, &["a", "b", "b"]));
        assert!(accepts(&m, &["a", "b", "b", "b", "c", "c"]));
        assert!(!accepts(&m, &["a", "b"]));
        assert!(!accepts(&m, &["a", "b", "b", "b", "b"]));
        assert!(!accepts(&m, &["b", "b"]));
    }

    #[test]
    fn repeated_choice_accepts_any_order() {
        let p = occurs(one(PTerm::Choice(vec![el("a"), el("b")])), 1, None);
        let m = compile(&p, &uri).expect("compiles");
        assert!(accepts(&m, &["b", "a", "a", "b"]));
        assert!(!accepts(&m, &[]));
    }

    #[test]
    fn refuses_ambiguous_models() {
        let p = one(PTerm::Sequence(vec![occurs(el("a"), 0, Some(1)), el("a")]));
        assert!(matches!(
            compile(&p, &uri),
            Err(ModelError::NotDeterministic(_))
        ));
        let any = Term::Wildcard(Wildcard {
            ns: NsConstraint::Any,
            process: ProcessContents::Lax,
        });
        let p = one(PTerm::Choice(vec![el("a"), one(PTerm::Wildcard(any))]));
        assert!(matches!(
            compile(&p, &uri),
            Err(ModelError::NotDeterministic(_))
        ));
    }

    #[test]
    fn one_particle_with_a_range_is_deterministic() {
        let p = occurs(el("a"), 0, Some(3));
        let m = compile(&p, &uri).expect("compiles");
        assert!(accepts(&m, &[]));
        assert!(accepts(&m, &["a", "a", "a"]));
        assert!(!accepts(&m, &["a", "a", "a", "a"]));
    }

    #[test]
    fn refuses_models_that_expand_beyond_the_limit() {
        let p = occurs(el("a"), 0, Some(50_000));
        assert_eq!(compile(&p, &uri).err(), Some(ModelError::TooLarge));
    }
}
