//! The built-in simple types of XSD 1.0 and their properties.

/// Every built-in simple type. The discriminant is also the type's index in a compiled schema's
/// simple-type table, so built-ins need no lookup at validation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Builtin {
    AnySimpleType,
    String,
    NormalizedString,
    Token,
    Language,
    Name,
    NcName,
    Id,
    IdRef,
    IdRefs,
    Entity,
    Entities,
    NmToken,
    NmTokens,
    Boolean,
    Decimal,
    Integer,
    NonPositiveInteger,
    NegativeInteger,
    Long,
    Int,
    Short,
    Byte,
    NonNegativeInteger,
    UnsignedLong,
    UnsignedInt,
    UnsignedShort,
    UnsignedByte,
    PositiveInteger,
    Float,
    Double,
    Duration,
    DateTime,
    Time,
    Date,
    GYearMonth,
    GYear,
    GMonthDay,
    GDay,
    GMonth,
    HexBinary,
    Base64Binary,
    AnyUri,
    QName,
    Notation,
}

/// The `whiteSpace` facet values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WhiteSpace {
    Preserve,
    Replace,
    Collapse,
}

/// Where libxml2 tolerates whitespace around a value of a built-in type when the value was not
/// whitespace-normalised first (see `docs/schema-validation.md`, "libxml2 compatibility").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawWhitespace {
    /// Leading and trailing whitespace is skipped (most types).
    Both,
    /// No whitespace at all (`long`, `int`, `short`, `byte`, the unsigned types, `date`,
    /// `gYear`, `gYearMonth`).
    None,
    /// Leading whitespace only (`time`, `duration`, `gDay`, `gMonth`, `gMonthDay`).
    Leading,
    /// No leading whitespace; trailing whitespace only after a time zone (`dateTime`).
    DateTime,
    /// Both, except no trailing whitespace after `NaN`, `INF`, `-INF` (`float`, `double`).
    Float,
}

pub(crate) const ALL: [Builtin; 45] = [
    Builtin::AnySimpleType,
    Builtin::String,
    Builtin::NormalizedString,
    Builtin::Token,
    Builtin::Language,
    Builtin::Name,
    Builtin::NcName,
    Builtin::Id,
    Builtin::IdRef,
    Builtin::IdRefs,
    Builtin::Entity,
    Builtin::Entities,
    Builtin::NmToken,
    Builtin::NmTokens,
    Builtin::Boolean,
    Builtin::Decimal,
    Builtin::Integer,
    Builtin::NonPositiveInteger,
    Builtin::NegativeInteger,
    Builtin::Long,
    Builtin::Int,
    Builtin::Short,
    Builtin::Byte,
    Builtin::NonNegativeInteger,
    Builtin::UnsignedLong,
    Builtin::UnsignedInt,
    Builtin::UnsignedShort,
    Builtin::UnsignedByte,
    Builtin::PositiveInteger,
    Builtin::Float,
    Builtin::Double,
    Builtin::Duration,
    Builtin::DateTime,
    Builtin::Time,
    Builtin::Date,
    Builtin::GYearMonth,
    Builtin::GYear,
    Builtin::GMonthDay,
    Builtin::GDay,
    Builtin::GMonth,
    Builtin::HexBinary,
    Builtin::Base64Binary,
    Builtin::AnyUri,
    Builtin::QName,
    Builtin::Notation,
];

impl Builtin {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Builtin::AnySimpleType => "anySimpleType",
            Builtin::String => "string",
            Builtin::NormalizedString => "normalizedString",
            Builtin::Token => "token",
            Builtin::Language => "language",
            Builtin::Name => "Name",
            Builtin::NcName => "NCName",
            Builtin::Id => "ID",
            Builtin::IdRef => "IDREF",
            Builtin::IdRefs => "IDREFS",
            Builtin::Entity => "ENTITY",
            Builtin::Entities => "ENTITIES",
            Builtin::NmToken => "NMTOKEN",
            Builtin::NmTokens => "NMTOKENS",
            Builtin::Boolean => "boolean",
            Builtin::Decimal => "decimal",
            Builtin::Integer => "integer",
            Builtin::NonPositiveInteger => "nonPositiveInteger",
            Builtin::NegativeInteger => "negativeInteger",
            Builtin::Long => "long",
            Builtin::Int => "int",
            Builtin::Short => "short",
            Builtin::Byte => "byte",
            Builtin::NonNegativeInteger => "nonNegativeInteger",
            Builtin::UnsignedLong => "unsignedLong",
            Builtin::UnsignedInt => "unsignedInt",
            Builtin::UnsignedShort => "unsignedShort",
            Builtin::UnsignedByte => "unsignedByte",
            Builtin::PositiveInteger => "positiveInteger",
            Builtin::Float => "float",
            Builtin::Double => "double",
            Builtin::Duration => "duration",
            Builtin::DateTime => "dateTime",
            Builtin::Time => "time",
            Builtin::Date => "date",
            Builtin::GYearMonth => "gYearMonth",
            Builtin::GYear => "gYear",
            Builtin::GMonthDay => "gMonthDay",
            Builtin::GDay => "gDay",
            Builtin::GMonth => "gMonth",
            Builtin::HexBinary => "hexBinary",
            Builtin::Base64Binary => "base64Binary",
            Builtin::AnyUri => "anyURI",
            Builtin::QName => "QName",
            Builtin::Notation => "NOTATION",
        }
    }

    pub(crate) fn by_name(name: &str) -> Option<Builtin> {
        ALL.iter().copied().find(|b| b.name() == name)
    }

    /// The base type in the built-in hierarchy (None for anySimpleType, whose base is anyType).
    pub(crate) fn base(self) -> Option<Builtin> {
        use Builtin::*;
        Some(match self {
            AnySimpleType => return None,
            String | Boolean | Decimal | Float | Double | Duration | DateTime | Time | Date
            | GYearMonth | GYear | GMonthDay | GDay | GMonth | HexBinary | Base64Binary
            | AnyUri | QName | Notation => AnySimpleType,
            NormalizedString => String,
            Token => NormalizedString,
            Language | Name | NmToken => Token,
            NcName => Name,
            Id | IdRef | Entity => NcName,
            IdRefs | Entities | NmTokens => AnySimpleType,
            Integer => Decimal,
            NonPositiveInteger | Long | NonNegativeInteger => Integer,
            NegativeInteger => NonPositiveInteger,
            Int => Long,
            Short => Int,
            Byte => Short,
            UnsignedLong | PositiveInteger => NonNegativeInteger,
            UnsignedInt => UnsignedLong,
            UnsignedShort => UnsignedInt,
            UnsignedByte => UnsignedShort,
        })
    }

    /// The item type of the three built-in list types.
    pub(crate) fn list_item(self) -> Option<Builtin> {
        match self {
            Builtin::IdRefs => Some(Builtin::IdRef),
            Builtin::Entities => Some(Builtin::Entity),
            Builtin::NmTokens => Some(Builtin::NmToken),
            _ => None,
        }
    }

    /// The primitive type this type derives from (itself for primitives).
    pub(crate) fn primitive(self) -> Builtin {
        let mut b = self;
        while let Some(base) = b.base() {
            if base == Builtin::AnySimpleType {
                return b;
            }
            b = base;
        }
        b
    }

    pub(crate) fn whitespace(self) -> WhiteSpace {
        match self {
            Builtin::String | Builtin::AnySimpleType => WhiteSpace::Preserve,
            Builtin::NormalizedString => WhiteSpace::Replace,
            _ => WhiteSpace::Collapse,
        }
    }

    pub(crate) fn raw_whitespace(self) -> RawWhitespace {
        use Builtin::*;
        match self {
            Long | Int | Short | Byte | UnsignedLong | UnsignedInt | UnsignedShort
            | UnsignedByte | Date | GYear | GYearMonth => RawWhitespace::None,
            Time | Duration | GDay | GMonth | GMonthDay => RawWhitespace::Leading,
            DateTime => RawWhitespace::DateTime,
            Float | Double => RawWhitespace::Float,
            _ => RawWhitespace::Both,
        }
    }

    /// Whether the type has an order, so the bounds facets apply.
    pub(crate) fn is_ordered(self) -> bool {
        use Builtin::*;
        matches!(
            self.primitive(),
            Decimal
                | Float
                | Double
                | Duration
                | DateTime
                | Time
                | Date
                | GYearMonth
                | GYear
                | GMonthDay
                | GDay
                | GMonth
        )
    }

    /// Whether the type derives from `xs:decimal` (digits facets apply).
    pub(crate) fn is_decimal(self) -> bool {
        self.primitive() == Builtin::Decimal
    }

    /// Whether the length facets apply.
    pub(crate) fn has_length(self) -> bool {
        use Builtin::*;
        matches!(
            self.primitive(),
            String | HexBinary | Base64Binary | AnyUri | QName | Notation
        ) || self.list_item().is_some()
    }

    /// Whether `self` is `other` or derives from it in the built-in hierarchy.
    pub(crate) fn derives_from(self, other: Builtin) -> bool {
        let mut b = Some(self);
        while let Some(t) = b {
            if t == other {
                return true;
            }
            b = t.base();
        }
        false
    }
}
