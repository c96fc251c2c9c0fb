//! Public keys taken from trusted certificates or pinned SPKIs, and the one
//! place where signatures are checked with ring.

use ring::signature::{self as sig, UnparsedPublicKey};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::VerifyError;
use crate::algorithms::{KeyFamily, SignatureAlgorithm};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

/// A verification key. Invariants: RSA `der` is an RSAPublicKey of
/// `bits` ≥ 2048 (checked at construction); EC `point` is an uncompressed
/// SEC1 point of its curve; Ed25519 keys are 32 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PublicKey {
    Rsa { der: Vec<u8>, bits: usize },
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

/// Why a key cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyProblem {
    Invalid,
    WeakRsa(usize),
    Unsupported(&'static str),
}

impl KeyProblem {
    pub(crate) fn into_verify_error(self) -> VerifyError {
        match self {
            Self::WeakRsa(bits) => VerifyError::WeakRsaKey { bits },
            Self::Invalid => VerifyError::UnsupportedKey {
                reason: "unreadable public key",
            },
            Self::Unsupported(reason) => VerifyError::UnsupportedKey { reason },
        }
    }
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Self, KeyProblem> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|_| KeyProblem::Invalid)?;
        if !rest.is_empty() {
            return Err(KeyProblem::Invalid);
        }
        Self::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, KeyProblem> {
        let alg = &spki.algorithm.algorithm;
        let data: &[u8] = &spki.subject_public_key.data;
        if *alg == OID_PKCS1_RSAENCRYPTION {
            let bits = rsa_modulus_bits(data).ok_or(KeyProblem::Invalid)?;
            if bits < MIN_RSA_BITS {
                return Err(KeyProblem::WeakRsa(bits));
            }
            if bits > 8192 {
                return Err(KeyProblem::Unsupported("RSA keys above 8192 bits"));
            }
            Ok(Self::Rsa {
                der: data.to_vec(),
                bits,
            })
        } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .ok_or(KeyProblem::Unsupported("EC key without a named curve"))?;
            let (curve, len) = if curve_oid == OID_EC_P256 {
                (Curve::P256, 65)
            } else if curve_oid == OID_NIST_EC_P384 {
                (Curve::P384, 97)
            } else {
                return Err(KeyProblem::Unsupported(
                    "EC curve other than P-256 and P-384",
                ));
            };
            if data.len() != len || data.first() != Some(&4) {
                return Err(KeyProblem::Invalid);
            }
            Ok(Self::Ec {
                curve,
                point: data.to_vec(),
            })
        } else if *alg == OID_SIG_ED25519 {
            if data.len() != 32 {
                return Err(KeyProblem::Invalid);
            }
            Ok(Self::Ed25519(data.to_vec()))
        } else {
            Err(KeyProblem::Unsupported(
                "key type other than RSA, EC P-256/P-384 and Ed25519",
            ))
        }
    }

    pub(crate) fn family(&self) -> KeyFamily {
        match self {
            Self::Rsa { .. } => KeyFamily::Rsa,
            Self::Ec { .. } => KeyFamily::Ec,
            Self::Ed25519(_) => KeyFamily::Ed25519,
        }
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Rsa { .. } => "RSA",
            Self::Ec {
                curve: Curve::P256, ..
            } => "EC P-256",
            Self::Ec {
                curve: Curve::P384, ..
            } => "EC P-384",
            Self::Ed25519(_) => "Ed25519",
        }
    }

    /// Exact SignatureValue length for this key.
    pub(crate) fn signature_len(&self) -> usize {
        match self {
            Self::Rsa { bits, .. } => bits.div_ceil(8),
            Self::Ec {
                curve: Curve::P256, ..
            } => 64,
            Self::Ec {
                curve: Curve::P384, ..
            } => 96,
            Self::Ed25519(_) => 64,
        }
    }

    /// Checks type, length and then the signature itself.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        if algorithm.family() != self.family() {
            return Err(VerifyError::KeyAlgorithmMismatch {
                algorithm,
                key: self.describe(),
            });
        }
        let expected = self.signature_len();
        if signature.len() != expected {
            return Err(VerifyError::SignatureLengthMismatch {
                expected,
                actual: signature.len(),
            });
        }
        use SignatureAlgorithm as A;
        let ok = match (self, algorithm) {
            (Self::Rsa { der, .. }, a) => {
                let params: &'static dyn sig::VerificationAlgorithm = match a {
                    A::RsaSha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    A::RsaSha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    A::RsaSha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    A::RsaPssSha256 => &sig::RSA_PSS_2048_8192_SHA256,
                    A::RsaPssSha384 => &sig::RSA_PSS_2048_8192_SHA384,
                    _ => &sig::RSA_PSS_2048_8192_SHA512,
                };
                UnparsedPublicKey::new(params, der)
                    .verify(message, signature)
                    .is_ok()
            }
            (
                Self::Ec {
                    curve: Curve::P256,
                    point,
                },
                A::EcdsaSha256,
            ) => UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            (
                Self::Ec {
                    curve: Curve::P384,
                    point,
                },
                A::EcdsaSha384,
            ) => UnparsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            // ring has these pairings only in ASN.1 form: re-encode r‖s.
            (
                Self::Ec {
                    curve: Curve::P256,
                    point,
                },
                _,
            ) => UnparsedPublicKey::new(&sig::ECDSA_P256_SHA384_ASN1, point)
                .verify(message, &fixed_to_der(signature))
                .is_ok(),
            (
                Self::Ec {
                    curve: Curve::P384,
                    point,
                },
                _,
            ) => UnparsedPublicKey::new(&sig::ECDSA_P384_SHA256_ASN1, point)
                .verify(message, &fixed_to_der(signature))
                .is_ok(),
            (Self::Ed25519(key), _) => UnparsedPublicKey::new(&sig::ED25519, key)
                .verify(message, signature)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }
}

/// Bit length of the modulus of a DER RSAPublicKey.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (_, key) = x509_parser::public_key::RSAPublicKey::from_der(der).ok()?;
    let modulus = key.modulus;
    let first = modulus.iter().position(|b| *b != 0)?;
    let significant = modulus.get(first..)?;
    let lead = *significant.first()?;
    Some(significant.len() * 8 - lead.leading_zeros() as usize)
}

/// Raw r‖s (two equal halves) to a DER `ECDSA-Sig-Value`.
fn fixed_to_der(signature: &[u8]) -> Vec<u8> {
    let (r, s) = signature.split_at(signature.len() / 2);
    let mut body = Vec::with_capacity(signature.len() + 8);
    for int in [r, s] {
        let start = int
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(int.len().saturating_sub(1));
        let int = int.get(start..).unwrap_or(&[]);
        let pad = int.first().is_some_and(|b| b & 0x80 != 0);
        body.push(0x02);
        push_der_len(&mut body, int.len() + usize::from(pad));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(int);
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    push_der_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn push_der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x81);
        out.push((len & 0xFF) as u8);
    }
}
