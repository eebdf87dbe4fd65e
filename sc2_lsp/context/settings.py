"""Settings for repository context: what the workspace index may read and how the budget is split.

Owns `RepoContextSettings` and its product defaults (ignore lists, secret-file patterns, the
share of the context budget each source gets).  Pure data: nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

# Directories and files that are never useful context, whatever `.gitignore` says.  They are
# gitignore-style patterns matched against workspace-relative paths.
DEFAULT_BUILTIN_IGNORE: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    ".jj/",
    "node_modules/",
    "bower_components/",
    "__pycache__/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    ".eggs/",
    "*.egg-info/",
    ".gradle/",
    ".idea/",
    ".vs/",
    ".next/",
    ".nuxt/",
    ".cache/",
    ".terraform/",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.bundle.js",
    "*.chunk.js",
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "go.sum",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.pb.cc",
    "*.pb.h",
    "*.g.dart",
    "*.generated.*",
    "*_generated.*",
)

# Files that may hold credentials.  Never read, never indexed, never shown to the model even
# when the user has them open.
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.gpg",
    "*.asc",
    "*.crt",
    "*.cer",
    "*.der",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.ppk",
    "credentials",
    "credentials*.json",
    "credentials*.yaml",
    "credentials*.yml",
    "*credentials.json",
    "client_secret*.json",
    "service-account*.json",
    "*serviceaccount*.json",
    "secrets.*",
    "*.secret",
    "*.secrets",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".pypirc",
    ".pgpass",
    ".htpasswd",
    ".git-credentials",
    ".dockercfg",
    ".ssh/",
    ".gnupg/",
    ".aws/",
    ".docker/config.json",
    ".kube/config",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
)


@dataclass(frozen=True)
class RepoContextSettings:
    """How the workspace index reads files and how `gather` spends its token budget.

    Budget shares are fractions of the context budget reserved for each source, taken in the
    order import → definition → recent → similar; what one source leaves unused flows to the next.
    At a member completion the receiver's members come first, with `share_members` of the
    budget, and the four shares apply to what they leave.
    """

    enabled: bool = True
    max_file_bytes: int = 1_000_000
    ignore: tuple[str, ...] = ()
    builtin_ignore: tuple[str, ...] = DEFAULT_BUILTIN_IGNORE
    secret_patterns: tuple[str, ...] = DEFAULT_SECRET_PATTERNS
    max_files: int = 20_000
    # Lines longer than this mark a file as minified/generated data rather than source.
    max_line_length: int = 1_000
    max_average_line_length: int = 200
    # Of the whole budget, when the cursor completes a member: the receiver's members.
    share_members: float = 0.60
    share_import: float = 0.40
    share_definition: float = 0.25
    share_recent: float = 0.20
    share_similar: float = 0.15
    similar_window_lines: int = 20
    similar_min_score: float = 0.15
    similar_max_files: int = 10
    recent_chunk_lines: int = 24
    recent_max_chunks: int = 16
    # Identifiers this many lines around the cursor decide which definitions are wanted.
    cursor_context_lines: int = 60
    # A definition longer than this is only ever shown as its signature/outline.
    max_definition_lines: int = 80
    # A name defined in more files than this is too ambiguous to guess its definition from.
    max_ambiguous_definitions: int = 3
