//! Which registry hosts are Amazon ECR, and what the host name says about them.
//!
//! This is the gate in front of everything else: a host that is not ECR must be
//! answered "not found" before any AWS configuration, file or network is
//! touched, because `credsStore` users send us every registry they pull from.
//! The check is an exact parse of the host's labels, never a substring or
//! unanchored match, so `…amazonaws.com.evil.example` is not ECR. Pure code, no I/O.

use std::fmt;

/// The AWS partition a registry lives in; it decides which credentials and endpoints apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// Commercial regions (`aws`).
    Aws,
    /// China regions (`aws-cn`).
    AwsCn,
    /// AWS GovCloud (US) (`aws-us-gov`).
    AwsUsGov,
    /// European Sovereign Cloud (`aws-eusc`).
    AwsEusc,
    /// US ISO (`aws-iso`).
    AwsIso,
    /// US ISOB (`aws-iso-b`).
    AwsIsoB,
    /// EU ISOE (`aws-iso-e`).
    AwsIsoE,
    /// US ISOF (`aws-iso-f`).
    AwsIsoF,
}

impl Partition {
    /// The partition id as it appears in ARNs, for logs and cache keys.
    pub fn id(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsEusc => "aws-eusc",
            Partition::AwsIso => "aws-iso",
            Partition::AwsIsoB => "aws-iso-b",
            Partition::AwsIsoE => "aws-iso-e",
            Partition::AwsIsoF => "aws-iso-f",
        }
    }

    /// The DNS suffix of the partition's standard (not dual-stack) registry hosts.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::AwsEusc => "amazonaws.eu",
            Partition::AwsIso => "c2s.ic.gov",
            Partition::AwsIsoB => "sc2s.sgov.gov",
            Partition::AwsIsoE => "cloud.adc-e.uk",
            Partition::AwsIsoF => "csp.hci.ic.gov",
        }
    }

    /// The partition of a region name, for registries named by an alias rather than a host.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else if region.starts_with("eusc-") {
            Partition::AwsEusc
        } else if region.starts_with("us-isob-") {
            Partition::AwsIsoB
        } else if region.starts_with("us-isof-") {
            Partition::AwsIsoF
        } else if region.starts_with("eu-isoe-") {
            Partition::AwsIsoE
        } else if region.starts_with("us-iso-") {
            Partition::AwsIso
        } else {
            Partition::Aws
        }
    }
}

/// Private registries are per account and region; ECR Public is one global registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegistryKind {
    /// `<account>.dkr.ecr.<region>.<suffix>`: GetAuthorizationToken in that region.
    Private {
        /// The 12-digit registry (account) id, sent as `registryIds`.
        account_id: String,
        /// The region the API call goes to.
        region: String,
    },
    /// `public.ecr.aws` / `ecr-public.aws.com`: ecr-public's API, always in us-east-1.
    Public,
}

/// An ECR registry recognised from a host name (or a configured alias).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrRegistry {
    /// The canonical registry host (lowercase, no scheme, path or port).
    pub host: String,
    /// Private or Public, with what the API call needs.
    pub kind: RegistryKind,
    /// The partition the credentials must belong to.
    pub partition: Partition,
    /// The host is a FIPS endpoint, so the API call must use the FIPS endpoint too.
    pub fips: bool,
    /// The host is a dual-stack (IPv6) endpoint, so the API call uses dual-stack too.
    pub dual_stack: bool,
}

/// ECR Public has one API region.
pub const PUBLIC_REGION: &str = "us-east-1";

impl EcrRegistry {
    /// The region GetAuthorizationToken must be sent to.
    pub fn api_region(&self) -> &str {
        match &self.kind {
            RegistryKind::Private { region, .. } => region,
            RegistryKind::Public => PUBLIC_REGION,
        }
    }

    /// The account id for private registries; `None` for ECR Public.
    pub fn account_id(&self) -> Option<&str> {
        match &self.kind {
            RegistryKind::Private { account_id, .. } => Some(account_id),
            RegistryKind::Public => None,
        }
    }

    /// A private registry named by something other than its ECR host (a configured alias).
    pub fn private(host: &str, account_id: &str, region: &str, fips: bool) -> EcrRegistry {
        EcrRegistry {
            host: host.to_string(),
            kind: RegistryKind::Private {
                account_id: account_id.to_string(),
                region: region.to_string(),
            },
            partition: Partition::of_region(region),
            fips,
            dual_stack: false,
        }
    }
}

impl fmt::Display for EcrRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)
    }
}

/// Host suffixes of private registries: (suffix, partition, dual-stack).
/// GovCloud shares the commercial suffixes and is told apart by region.
const PRIVATE_SUFFIXES: &[(&str, Partition, bool)] = &[
    ("amazonaws.com", Partition::Aws, false),
    ("amazonaws.com.cn", Partition::AwsCn, false),
    ("amazonaws.eu", Partition::AwsEusc, false),
    ("on.aws", Partition::Aws, true),
    ("on.amazonwebservices.com.cn", Partition::AwsCn, true),
    ("c2s.ic.gov", Partition::AwsIso, false),
    ("sc2s.sgov.gov", Partition::AwsIsoB, false),
    ("cloud.adc-e.uk", Partition::AwsIsoE, false),
    ("csp.hci.ic.gov", Partition::AwsIsoF, false),
];

/// ECR Public hosts: (host, dual-stack).
const PUBLIC_HOSTS: &[(&str, bool)] = &[("public.ecr.aws", false), ("ecr-public.aws.com", true)];

/// Recognises an ECR registry from a canonical host (see [`crate::protocol::canonical_host`]).
///
/// Accepts exactly what the Go helper's anchored pattern accepts, case-folded:
/// `<12 digits>.dkr(.|-)ecr[-fips].<region>.<partition suffix>` and the two
/// ECR Public names. A host with a port is never ECR.
pub fn parse_host(host: &str) -> Option<EcrRegistry> {
    if let Some(&(name, dual_stack)) = PUBLIC_HOSTS.iter().find(|(h, _)| *h == host) {
        return Some(EcrRegistry {
            host: name.to_string(),
            kind: RegistryKind::Public,
            partition: Partition::Aws,
            fips: false,
            dual_stack,
        });
    }
    for &(suffix, partition, dual_stack) in PRIVATE_SUFFIXES {
        let Some(prefix) = host.strip_suffix(suffix).and_then(|p| p.strip_suffix('.')) else {
            continue;
        };
        let (account_id, rest) = prefix.split_once('.')?;
        let (service, region) = rest.rsplit_once('.')?;
        let fips = match service {
            "dkr.ecr" | "dkr-ecr" => false,
            "dkr.ecr-fips" | "dkr-ecr-fips" => true,
            _ => return None,
        };
        if !is_account_id(account_id) || !is_region(region) {
            return None;
        }
        let partition = if partition == Partition::Aws && region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            partition
        };
        return Some(EcrRegistry {
            host: host.to_string(),
            kind: RegistryKind::Private {
                account_id: account_id.to_string(),
                region: region.to_string(),
            },
            partition,
            fips,
            dual_stack,
        });
    }
    None
}

/// The standard registry host of an account in a region, as `configure --region` writes it.
pub fn private_host(account_id: &str, region: &str) -> String {
    let suffix = Partition::of_region(region).dns_suffix();
    format!("{account_id}.dkr.ecr.{region}.{suffix}")
}

/// A 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A plausible region label (the Go helper's `[a-zA-Z0-9][a-zA-Z0-9-_]*`, lowercased).
pub fn is_region(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::canonical_host;

    /// (input as a client may send it, account, region, partition, fips, dual-stack)
    const PRIVATE: &[(&str, &str, &str, &str, bool, bool)] = &[
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012",
            "us-east-1",
            "aws",
            false,
            false,
        ),
        (
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/blah/blah",
            "123456789012",
            "us-east-1",
            "aws",
            false,
            false,
        ),
        (
            "123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM:443",
            "123456789012",
            "eu-west-1",
            "aws",
            false,
            false,
        ),
        (
            "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "123456789012",
            "us-gov-west-1",
            "aws-us-gov",
            true,
            false,
        ),
        (
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            "123456789012",
            "us-east-1",
            "aws",
            true,
            false,
        ),
        (
            "123456789012.dkr.ecr.us-gov-east-1.amazonaws.com",
            "123456789012",
            "us-gov-east-1",
            "aws-us-gov",
            false,
            false,
        ),
        (
            "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/foo",
            "210987654321",
            "cn-north-1",
            "aws-cn",
            false,
            false,
        ),
        (
            "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
            "123456789012",
            "eusc-de-east-1",
            "aws-eusc",
            false,
            false,
        ),
        (
            "123456789012.dkr-ecr.us-west-2.on.aws",
            "123456789012",
            "us-west-2",
            "aws",
            false,
            true,
        ),
        (
            "123456789012.dkr-ecr-fips.us-west-2.on.aws",
            "123456789012",
            "us-west-2",
            "aws",
            true,
            true,
        ),
        (
            "123456789012.dkr-ecr-fips.us-gov-east-1.on.aws",
            "123456789012",
            "us-gov-east-1",
            "aws-us-gov",
            true,
            true,
        ),
        (
            "210987654321.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
            "210987654321",
            "cn-north-1",
            "aws-cn",
            false,
            true,
        ),
        (
            "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
            "123456789012",
            "us-iso-east-1",
            "aws-iso",
            false,
            false,
        ),
        (
            "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
            "123456789012",
            "us-isob-east-1",
            "aws-iso-b",
            false,
            false,
        ),
        (
            "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
            "123456789012",
            "eu-isoe-west-1",
            "aws-iso-e",
            false,
            false,
        ),
        (
            "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
            "123456789012",
            "us-isof-south-1",
            "aws-iso-f",
            false,
            false,
        ),
        (
            "http://123456789012.dkr.ecr.ap-south-2.amazonaws.com.",
            "123456789012",
            "ap-south-2",
            "aws",
            false,
            false,
        ),
    ];

    const NOT_ECR: &[&str] = &[
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.fake.example.com",
        "123456789012.dkr.ecr.cn-north-1.on.aws.com.cn",
        "evil123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "x.123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com",
        "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.evil.example.amazonaws.com",
        "123456789012.dkr.ecr..amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000",
        "123456789012.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr-fips-x.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.-us-east-1.amazonaws.com",
        "api.ecr.us-east-1.amazonaws.com",
        "amazonaws.com",
        "public.ecr.aws.evil.example",
        "evilpublic.ecr.aws",
        "public.ecr.aws:5000",
        "not.ecr.io",
        "docker.io",
        "index.docker.io",
        "ghcr.io",
        "localhost:5000",
    ];

    fn parse(input: &str) -> Option<EcrRegistry> {
        canonical_host(input).and_then(|h| parse_host(&h))
    }

    #[test]
    fn private_registries_in_every_partition() {
        for &(input, account, region, partition, fips, dual) in PRIVATE {
            let r = parse(input).unwrap_or_else(|| panic!("{input} should be ECR"));
            assert_eq!(r.account_id(), Some(account), "{input}");
            assert_eq!(r.api_region(), region, "{input}");
            assert_eq!(r.partition.id(), partition, "{input}");
            assert_eq!(r.fips, fips, "{input}");
            assert_eq!(r.dual_stack, dual, "{input}");
            assert!(!r.host.contains('/') && !r.host.contains(':'), "{input}");
        }
    }

    #[test]
    fn ecr_public() {
        for (input, dual) in [
            ("public.ecr.aws", false),
            ("https://public.ecr.aws/amazonlinux", false),
            ("PUBLIC.ECR.AWS:443", false),
            ("ecr-public.aws.com", true),
        ] {
            let r = parse(input).unwrap_or_else(|| panic!("{input} should be ECR Public"));
            assert_eq!(r.kind, RegistryKind::Public, "{input}");
            assert_eq!(r.api_region(), "us-east-1");
            assert_eq!(r.account_id(), None);
            assert_eq!(r.dual_stack, dual, "{input}");
        }
    }

    #[test]
    fn lookalikes_and_other_registries_are_rejected() {
        for input in NOT_ECR {
            assert_eq!(parse(input), None, "{input} must not be ECR");
        }
    }

    #[test]
    fn partition_of_region() {
        for (region, want) in [
            ("us-east-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(Partition::of_region(region).id(), want, "{region}");
        }
    }

    #[test]
    fn private_host_is_recognised_in_every_partition() {
        for region in [
            "us-east-1",
            "cn-north-1",
            "us-gov-west-1",
            "eusc-de-east-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "us-isof-south-1",
        ] {
            let host = private_host("123456789012", region);
            let registry = parse_host(&host).unwrap_or_else(|| panic!("{host}"));
            assert_eq!(registry.partition, Partition::of_region(region), "{host}");
            assert_eq!(registry.api_region(), region);
        }
    }
}
